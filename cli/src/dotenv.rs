//! A `.env` reader: `KEY=value` lines, `#` comments, optional `export `, single or double quotes.
//!
//! Small enough to read in a minute, which is why it is not a dependency. A line it cannot read is
//! an error that names the line, never a silently missing setting.

/// Parses the text of a `.env` file into `(name, value)` pairs, in file order; an error names
/// the line (`line 2: expected NAME=value`).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut pairs = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let fail = |problem| format!("line {}: {problem}", index + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| fail("expected NAME=value"))?;
        let key = key.trim();
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_key {
            return Err(fail("the name must be letters, digits and underscores"));
        }
        pairs.push((key.to_string(), parse_value(value.trim()).map_err(fail)?));
    }
    Ok(pairs)
}

fn parse_value(value: &str) -> Result<String, &'static str> {
    let mut chars = value.chars();
    match chars.next() {
        Some('\'') => {
            let body = chars.as_str();
            let end = body.find('\'').ok_or("unterminated single quote")?;
            ensure_only_comment(&body[end + 1..])?;
            Ok(body[..end].to_string())
        }
        Some('"') => {
            let mut out = String::new();
            let mut escaped = false;
            for (i, c) in chars.as_str().char_indices() {
                match (escaped, c) {
                    (true, 'n') => out.push('\n'),
                    (true, 't') => out.push('\t'),
                    (true, 'r') => out.push('\r'),
                    (true, c) => out.push(c),
                    (false, '\\') => {
                        escaped = true;
                        continue;
                    }
                    (false, '"') => {
                        ensure_only_comment(&chars.as_str()[i + 1..])?;
                        return Ok(out);
                    }
                    (false, c) => out.push(c),
                }
                escaped = false;
            }
            Err("unterminated double quote")
        }
        _ => {
            // An unquoted value ends at " #" (a comment) and is trimmed.
            let end = value.find(" #").unwrap_or(value.len());
            Ok(value[..end].trim().to_string())
        }
    }
}

fn ensure_only_comment(rest: &str) -> Result<(), &'static str> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err("unexpected text after the closing quote")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sample_file() {
        let text = "CLIENT_USERNAME=your_client_id\nCLIENT_PASSWORD=your_client_secret\n\
                    SUBSCRIPTION_ID=your_subscription_id\n\nOAUTH_URL=https://zoom.us/oauth/token\n\
                    WS_URL=wss://ws.zoom.us/ws\n";
        let pairs = parse(text).unwrap();
        assert_eq!(pairs.len(), 5);
        assert_eq!(
            pairs[3],
            ("OAUTH_URL".into(), "https://zoom.us/oauth/token".into())
        );
    }

    #[test]
    fn quotes_comments_and_export() {
        let text =
            "# comment\nexport A=1 # note\nB='x # y'\nC=\"a\\\"b\\nc\"  # c\nD=\nE = spaced \r\n";
        let pairs = parse(text).unwrap();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("A"), "1");
        assert_eq!(get("B"), "x # y");
        assert_eq!(get("C"), "a\"b\nc");
        assert_eq!(get("D"), "");
        assert_eq!(get("E"), "spaced");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("A=1\nnonsense\n").unwrap_err(),
            "line 2: expected NAME=value"
        );
        assert_eq!(
            parse("A=\"open\n").unwrap_err(),
            "line 1: unterminated double quote"
        );
        assert!(parse("1A=x").is_err());
        assert!(parse("A='x' y").is_err());
    }
}
