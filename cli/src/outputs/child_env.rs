//! The environment a `--exec` command gets: ours, without a secret. The settings read from
//! `.env` never reach it (they are not exported); of the process environment, the client
//! secret (both names), the webhook secret token and anything named like a secret are left out,
//! and proxy variables keep the proxy but lose its `user:password@`.

use std::ffi::{OsStr, OsString};

/// The one secret the command never sees whose name does not say so: the receiver's URL, whose
/// path or query may hold its key.
const FORWARD_URL: &str = "ZOOM_FORWARD_URL";

/// Parts of a name that mark a secret (`AWS_SECRET_ACCESS_KEY`, `DB_PASSWORD`, `GH_TOKEN`; our
/// `ZOOM_CLIENT_SECRET`, `CLIENT_PASSWORD` and `ZOOM_WEBHOOK_SECRET_TOKEN`).
const SECRET_WORDS: [&str; 7] = [
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "CREDENTIAL",
    "PRIVATE_KEY",
    "API_KEY",
];

/// systemd's variables for this process: a command that used them would notify as zoom-ws.
const MANAGER_VARIABLES: [&str; 4] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
];

/// `vars` (the process environment) as the command gets it.
pub fn child_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    vars.into_iter()
        .filter(|(name, _)| !is_secret(name))
        .filter(|(name, _)| !MANAGER_VARIABLES.contains(&upper(name).as_str()))
        .filter_map(|(name, value)| {
            if !is_proxy(&name) {
                return Some((name, value));
            }
            // A proxy value that is not text cannot be cleaned: leave it out.
            let value = value.to_str()?;
            Some((name, OsString::from(without_userinfo(value))))
        })
        .collect()
}

fn upper(name: &OsStr) -> String {
    name.to_string_lossy().to_ascii_uppercase()
}

fn is_secret(name: &OsStr) -> bool {
    let name = upper(name);
    name == FORWARD_URL || SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, `HTTP_PROXY`, … (not `NO_PROXY`, a host list).
fn is_proxy(name: &OsStr) -> bool {
    let name = upper(name);
    name.ends_with("_PROXY") && name != "NO_PROXY"
}

/// `http://user:pw@proxy:3128/` → `http://proxy:3128/`; a value without user info unchanged.
pub fn without_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}{}", &url[..start], &url[start + at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let vars = pairs.iter().map(|(k, v)| (k.into(), v.into()));
        child_env(vars)
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect()
    }

    #[test]
    fn secrets_are_left_out_and_proxies_lose_their_password() {
        let got = env(&[
            ("PATH", "/bin"),
            ("ZOOM_CLIENT_ID", "id"),
            ("ZOOM_CLIENT_SECRET", "s1"),
            ("CLIENT_PASSWORD", "s2"),
            ("ZOOM_WEBHOOK_SECRET_TOKEN", "s3"),
            ("ZOOM_FORWARD_URL", "https://hooks.example/zoom?key=s6"),
            ("AWS_SECRET_ACCESS_KEY", "s4"),
            ("github_token", "s5"),
            ("HTTPS_PROXY", "http://user:p%40ss@proxy.example:3128"),
            ("https_proxy", "http://u:p@proxy.example:3128/"),
            ("ALL_PROXY", "socks5://u:p@h:1080"),
            ("all_proxy", "u:p@h:8080"),
            ("HTTP_PROXY", "http://proxy.example:8080"),
            ("NOTIFY_SOCKET", "/run/systemd/notify"),
            ("WATCHDOG_USEC", "180000000"),
            ("NO_PROXY", "localhost,.corp"),
        ]);
        let want = [
            ("PATH", "/bin"),
            ("ZOOM_CLIENT_ID", "id"),
            ("HTTPS_PROXY", "http://proxy.example:3128"),
            ("https_proxy", "http://proxy.example:3128/"),
            ("ALL_PROXY", "socks5://h:1080"),
            ("all_proxy", "h:8080"),
            ("HTTP_PROXY", "http://proxy.example:8080"),
            ("NO_PROXY", "localhost,.corp"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_at_sign_in_the_path_is_not_user_info() {
        assert_eq!(without_userinfo("http://h:1/a@b"), "http://h:1/a@b");
        assert_eq!(without_userinfo("http://a:b@c@h:1"), "http://h:1");
    }
}
