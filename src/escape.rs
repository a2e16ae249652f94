//! Values for log lines, escaped so that none can write a line of its own.

use std::fmt::{self, Write as _};

/// A value for a log line: control and invisible characters (and `\`) written as escapes, so a
/// value can never start a line of its own or hide text.
pub fn escaped(value: &str) -> Escaped<'_> {
    Escaped(value)
}

/// See [`escaped`].
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_control() || invisible(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Zero-width, line-separator and bidirectional-control characters: they can disguise a line.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// One character, quoted and escaped: `'\r'`, `'é'`.
pub(crate) fn escaped_char(c: char) -> String {
    let mut buf = [0; 4];
    format!("'{}'", escaped(c.encode_utf8(&mut buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_for_logs() {
        let shown = escaped("s\r\nX-Inj: 3\t\\ \u{1b}[31m \u{202e}é").to_string();
        assert_eq!(shown, "s\\r\\nX-Inj: 3\\t\\\\ \\u{1b}[31m \\u{202e}é");
    }
}
