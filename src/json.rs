//! Objects of which only a few fields are read: one pass, the wanted fields kept as raw JSON text
//! borrowed from the input, the others skipped unbuilt. Unescaping is serde_json's own.

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
}
