//! The little JSON reading the decoders need beyond serde_json: string unescaping in one pass,
//! and objects of which only a few fields are read, in one pass, without building the rest.

use std::borrow::Cow;
use std::fmt;

use serde_core::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Unescapes a JSON string literal (quotes included). `None` for anything serde_json would refuse
/// too.
pub(crate) fn unescape(literal: &str) -> Option<String> {
    let inside = literal.strip_prefix('"')?;
    let (text, used) = unescape_until_quote(inside.as_bytes())?;
    (used == inside.len()).then_some(text)
}

/// Unescapes the inside of a JSON string up to its closing quote, in one pass into a buffer that
/// never grows; returns the text and the bytes used, closing quote included. `None` for a string
/// that is not valid JSON (unterminated, a control character, a bad escape, a lone surrogate).
pub(crate) fn unescape_until_quote(inside: &[u8]) -> Option<(String, usize)> {
    // Zoom's content escapes every quote of the event inside it, so escapes come every few bytes:
    // a plain loop beats a search call per escape.
    let mut out = Vec::with_capacity(inside.len());
    let mut plain_from = 0;
    let mut at = 0;
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
        let byte = match *inside.get(at + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (c, used) = unicode_escape(&inside[at + 2..])?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                at += 2 + used;
                plain_from = at;
                continue;
            }
            _ => return None,
        };
        out.push(byte);
        at += 2;
        plain_from = at;
    }
    out.extend_from_slice(&inside[plain_from..at]);
    // The input was a &str and every escape became a whole char, so this cannot fail; checking is
    // cheap and keeps the crate free of `unsafe`.
    Some((String::from_utf8(out).ok()?, at + 1))
}

/// Decodes the `XXXX` after `\u` (and a following low surrogate when needed); returns the char and
/// how many bytes it used.
fn unicode_escape(bytes: &[u8]) -> Option<(char, usize)> {
    let hex = |b: &[u8]| -> Option<u32> {
        let digits = std::str::from_utf8(b.get(..4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    let first = hex(bytes)?;
    match first {
        0xD800..=0xDBFF => {
            let low = bytes
                .get(4..6)
                .filter(|p| *p == b"\\u")
                .and(hex(bytes.get(6..)?))?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let c = char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00))?;
            Some((c, 10))
        }
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(first)?, 4)),
    }
}

/// A JSON value seen only as far as we need it: strings borrowed when they hold no escapes,
/// booleans, integers; everything else is skipped without being built.
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Other,
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(i64::try_from(v).map_or(Scalar::Other, Scalar::Int))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// An object of which we read a few fields in one pass; the other fields are skipped unbuilt.
pub(crate) trait Fields<'de>: Default {
    /// What the object is, for serde's error messages.
    const WHAT: &'static str;
    /// Takes the value of `key` from `map` when it is wanted; returns whether it took it.
    fn take<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// The one serde visitor behind every [`Fields`] type.
struct FieldsVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Fields<'de>> Visitor<'de> for FieldsVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut fields = T::default();
        while let Some(key) = map.next_key::<Scalar<'de>>()? {
            let taken = match &key {
                Scalar::Str(name) => fields.take(name, &mut map)?,
                _ => false,
            };
            if !taken {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(fields)
    }
}

/// Parses `json` as an object of type `T`.
pub(crate) fn read_fields<'de, T: Fields<'de>>(json: &'de str) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let fields = deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))?;
    deserializer.end()?;
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_matches_serde_json() {
        for literal in [
            r#""""#,
            r#""plain""#,
            r#""\"q\" \\ \/ \b\f\n\r\t""#,
            r#""\u0041\u00e9\u20ac\ud83d\ude00""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\x""#,
            r#""\u12""#,
            r#""open"#,
            "\"tab\there\"",
            r#""a"b""#,
        ] {
            assert_eq!(
                unescape(literal),
                serde_json::from_str::<String>(literal).ok(),
                "{literal}"
            );
        }
    }
}
