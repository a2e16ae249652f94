//! Objects of which only a few fields are read: one pass, the wanted fields kept as raw JSON text
//! borrowed from the input, the others skipped unbuilt. Unescaping is serde_json's, but for the
//! event frames' content, where a plain loop keeps the flood's pace.

use std::borrow::Cow;
use std::fmt;

use serde_core::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The top-level fields `names` of the object `json`, as raw JSON text. A repeated field counts
/// once, the last one winning, as in serde_json's own maps.
pub(crate) fn fields<'a, const N: usize>(
    json: &'a str,
    names: [&str; N],
) -> serde_json::Result<[Option<&'a RawValue>; N]> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let found = deserializer.deserialize_map(FieldsVisitor(names))?;
    deserializer.end()?;
    Ok(found)
}

/// The one serde visitor behind [`fields`].
struct FieldsVisitor<'n, const N: usize>([&'n str; N]);

impl<'de, const N: usize> Visitor<'de> for FieldsVisitor<'_, N> {
    type Value = [Option<&'de RawValue>; N];
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None; N];
        while let Some(key) = map.next_key::<&RawValue>()? {
            match string(key).and_then(|key| self.0.iter().position(|name| *name == key)) {
                Some(i) => found[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// The text of a JSON string, borrowed when it holds no escape; `None` for any other value.
pub(crate) fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inside = text.strip_prefix('"')?.strip_suffix('"')?;
    match inside.contains('\\') {
        true => serde_json::from_str(text).ok().map(Cow::Owned),
        false => Some(Cow::Borrowed(inside)),
    }
}

/// The inside of a JSON string up to its closing quote, unescaped in one pass into a buffer that
/// never grows; with the bytes used, closing quote included. The fast path's own, for Zoom's
/// content strings, where escapes come every few bytes: `None` for anything less usual (a `\u`
/// escape, a control character, no closing quote), which serde_json then reads.
pub(crate) fn unescape_plain(inside: &[u8]) -> Option<(String, usize)> {
    let mut out = Vec::with_capacity(inside.len());
    let (mut plain_from, mut at) = (0, 0);
    loop {
        match *inside.get(at)? {
            b'"' => break,
            b'\\' => {}
            0x00..=0x1f => return None,
            _ => {
                at += 1;
                continue;
            }
        }
        out.extend_from_slice(&inside[plain_from..at]);
        out.push(match *inside.get(at + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            _ => return None,
        });
        at += 2;
        plain_from = at;
    }
    out.extend_from_slice(&inside[plain_from..at]);
    // Whole chars in, whole chars out: this cannot fail, and checking keeps the crate safe.
    Some((String::from_utf8(out).ok()?, at + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_fields_only_last_one_wins() {
        let json = r#"{"a":1,"\u0062":"x\ny","c":{"d":[]},"a":true}"#;
        let [a, b, z] = fields(json, ["a", "b", "z"]).unwrap();
        assert_eq!(a.map(RawValue::get), Some("true"));
        assert_eq!(b.and_then(string).as_deref(), Some("x\ny"));
        assert!(z.is_none());
        assert_eq!(string(a.unwrap()), None);
        assert!(fields("[1]", ["a"]).is_err());
        assert!(fields(r#"{"a":1} x"#, ["a"]).is_err());
    }

    #[test]
    fn plain_unescaping_agrees_with_serde_json_or_defers_to_it() {
        for literal in [
            r#""""#,
            r#""\"q\" \\ \/ \b\f\n\r\t" x"#,
            r#""\u0041""#,
            r#""open"#,
            "\"a\tb\"",
        ] {
            let inside = &literal.as_bytes()[1..];
            let serde = serde_json::Deserializer::from_str(literal)
                .into_iter::<String>()
                .next();
            match unescape_plain(inside) {
                Some((text, used)) => {
                    assert_eq!(
                        Some(&text),
                        serde.and_then(Result::ok).as_ref(),
                        "{literal}"
                    );
                    assert_eq!(literal.as_bytes()[used], b'"', "{literal}");
                }
                None => assert!(
                    literal.contains("\\u") || serde.is_none_or(|r| r.is_err()),
                    "{literal}"
                ),
            }
        }
    }
}
