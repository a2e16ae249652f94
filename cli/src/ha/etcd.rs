//! The few etcd v3 calls an election needs, through etcd's JSON gateway (`POST /v3/...`, etcd
//! 3.4 and later) with the HTTP client and JSON crates the library already brings. Keys and
//! values are base64 in that JSON; 64-bit numbers come back as strings.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// Who holds an election's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// This instance's lease.
    Us,
    /// Another instance, by the name it wrote.
    Other(String),
}

/// One etcd cluster, by its members' client URLs: a call goes to the member that answered last
/// and moves on to the next one when it fails.
pub struct Etcd {
    urls: Vec<String>,
    current: usize,
    agent: ureq::Agent,
}

impl Etcd {
    /// `timeout` bounds each request (a frozen member must not hold an election up).
    pub fn new(urls: Vec<String>, timeout: Duration) -> Etcd {
        use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
        let tls = TlsConfig::builder()
            .provider(TlsProvider::NativeTls)
            .root_certs(RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .tls_config(tls)
            // etcd is reached directly, never through HTTPS_PROXY (ureq would read it).
            .proxy(None)
            .max_redirects(0)
            .build()
            .into();
        Etcd {
            urls,
            current: 0,
            agent,
        }
    }

    /// The members' URLs, for messages.
    pub fn urls(&self) -> String {
        self.urls.join(", ")
    }

    /// A lease of `ttl` seconds: its id.
    pub fn grant(&mut self, ttl: u64) -> Result<i64, String> {
        let answer = self.call("/v3/lease/grant", &json!({ "TTL": ttl }))?;
        number(&answer["ID"]).ok_or_else(|| format!("lease grant answered without an ID: {answer}"))
    }

    /// Renews lease `id`: false when etcd no longer has it (it expired).
    pub fn keep_alive(&mut self, id: i64) -> Result<bool, String> {
        let answer = self.call("/v3/lease/keepalive", &json!({ "ID": id.to_string() }))?;
        Ok(number(&answer["result"]["TTL"]).is_some_and(|ttl| ttl > 0))
    }

    /// Gives lease `id` up: etcd deletes the keys attached to it at once.
    pub fn revoke(&mut self, id: i64) -> Result<(), String> {
        self.call("/v3/lease/revoke", &json!({ "ID": id.to_string() }))
            .map(drop)
    }

    /// Writes `value` at `key` under lease `lease` if no one holds the key, in one transaction
    /// that otherwise reads who does.
    pub fn campaign(&mut self, key: &str, value: &str, lease: i64) -> Result<Holder, String> {
        let key = STANDARD.encode(key);
        let txn = json!({
            "compare": [{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": 0}],
            "success": [{"request_put": {"key": key, "value": STANDARD.encode(value),
                                         "lease": lease.to_string()}}],
            "failure": [{"request_range": {"key": key}}],
        });
        let answer = self.call("/v3/kv/txn", &txn)?;
        if answer["succeeded"].as_bool() == Some(true) {
            return Ok(Holder::Us);
        }
        let kv = &answer["responses"][0]["response_range"]["kvs"][0];
        if number(&kv["lease"]) == Some(lease) {
            return Ok(Holder::Us);
        }
        let name = kv["value"]
            .as_str()
            .and_then(|v| STANDARD.decode(v).ok())
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_else(|| "another instance".to_string());
        Ok(Holder::Other(name))
    }

    /// POSTs `body` to `path`, trying each member once from the current one.
    fn call(&mut self, path: &str, body: &Value) -> Result<Value, String> {
        let mut problems = Vec::new();
        for _ in 0..self.urls.len() {
            let base = self.urls[self.current].trim_end_matches('/');
            match self.post(&format!("{base}{path}"), body) {
                Ok(answer) => return Ok(answer),
                Err(problem) => problems.push(format!("{base}: {problem}")),
            }
            self.current = (self.current + 1) % self.urls.len();
        }
        Err(problems.join("; "))
    }

    fn post(&self, url: &str, body: &Value) -> Result<Value, String> {
        let mut response = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let answer: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
        match status.as_u16() {
            200 => Ok(answer),
            code => Err(format!(
                "HTTP {code}: {}",
                answer["message"].as_str().unwrap_or("no message")
            )),
        }
    }
}

/// A number that the gateway writes as a string (int64) or as a number.
fn number(value: &Value) -> Option<i64> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_i64())
}
