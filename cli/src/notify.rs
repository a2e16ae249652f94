//! The service manager's notification protocol (`sd_notify(3)`), without libsystemd: one
//! datagram of `NAME=value` lines to the Unix socket named by `NOTIFY_SOCKET` (a path, or an
//! abstract name written `@name`). `READY=1` ends a `Type=notify` unit's start, `WATCHDOG=1`
//! keeps `WatchdogSec=` from restarting us, `STATUS=` shows in `systemctl status`.
//!
//! Outside a service manager (`NOTIFY_SOCKET` unset) there is no [`Notifier`] and nothing is
//! sent. On platforms without Unix sockets the type exists but is never made.
//!
//! The variables are inherited by children: `--exec` commands should be started without
//! `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` (systemd's default `NotifyAccess=main`
//! ignores them anyway).

use std::io;
use std::time::Duration;

/// Sends state changes to the service manager. `Sync`: every subscription thread may use one.
#[derive(Debug)]
pub struct Notifier {
    conn: imp::Conn,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the process environment: `None` when `NOTIFY_SOCKET` is unset, empty or unusable
    /// (then a warning says why; running without notifications is not an error).
    pub fn from_env() -> Option<Notifier> {
        let lookup = |name: &str| std::env::var(name).ok();
        match Notifier::from_lookup(lookup, std::process::id()) {
            Ok(notifier) => notifier,
            Err(e) => {
                log::warn!("NOTIFY_SOCKET: {e}; not sending readiness or watchdog notifications");
                None
            }
        }
    }

    /// From any lookup of variables (tests pass a map), for the process `pid`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        pid: u32,
    ) -> io::Result<Option<Notifier>> {
        let Some(name) = lookup("NOTIFY_SOCKET").filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let watchdog = watchdog_from(&lookup, pid);
        let conn = imp::open(&name)?;
        Ok(Some(Notifier { conn, watchdog }))
    }

    /// How often the manager expects `WATCHDOG=1` at the latest (`WATCHDOG_USEC`), when it
    /// watches this process. Send at about half of it, as `sd_watchdog_enabled(3)` advises.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Start-up is over: every subscription is live.
    pub fn ready(&self) -> io::Result<()> {
        self.send("READY=1")
    }

    /// One line for `systemctl status`. Control characters become spaces, so a status can never
    /// carry a second assignment (`\nREADY=1`).
    pub fn status(&self, text: &str) -> io::Result<()> {
        let clean: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.send(&format!("STATUS={clean}"))
    }

    /// Still alive and making progress.
    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }

    /// Shutting down: the manager waits for the exit instead of calling it a crash.
    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }

    fn send(&self, message: &str) -> io::Result<()> {
        imp::send(&self.conn, message.as_bytes())
    }
}

/// `WATCHDOG_USEC` when it is meant for `pid`: `None` if unset, for another process (a
/// parent's variable inherited) or unreadable (with a warning).
fn watchdog_from(lookup: &impl Fn(&str) -> Option<String>, pid: u32) -> Option<Duration> {
    let usec = lookup("WATCHDOG_USEC")?;
    if let Some(owner) = lookup("WATCHDOG_PID") {
        if owner.trim().parse::<u32>().ok() != Some(pid) {
            return None;
        }
    }
    match usec.trim().parse::<u64>() {
        Ok(n) if n > 0 => Some(Duration::from_micros(n)),
        _ => {
            log::warn!("WATCHDOG_USEC={usec:?} is not a positive number of microseconds; ignored");
            None
        }
    }
}

#[cfg(unix)]
mod imp {
    use std::io;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    /// An unbound datagram socket and the manager's address.
    #[derive(Debug)]
    pub struct Conn {
        socket: UnixDatagram,
        addr: SocketAddr,
    }

    pub fn open(name: &str) -> io::Result<Conn> {
        let addr = address(name)?;
        let socket = UnixDatagram::unbound()?;
        Ok(Conn { socket, addr })
    }

    fn address(name: &str) -> io::Result<SocketAddr> {
        if let Some(abstract_name) = name.strip_prefix('@') {
            return abstract_address(abstract_name.as_bytes());
        }
        if !name.starts_with('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is neither an absolute path nor an @abstract name"),
            ));
        }
        SocketAddr::from_pathname(name)
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn abstract_address(name: &[u8]) -> io::Result<SocketAddr> {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name)
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn abstract_address(_: &[u8]) -> io::Result<SocketAddr> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "abstract socket names exist only on Linux",
        ))
    }

    pub fn send(conn: &Conn, message: &[u8]) -> io::Result<()> {
        let sent = conn.socket.send_to_addr(message, &conn.addr)?;
        if sent != message.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "notification truncated",
            ));
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod imp {
    use std::io;

    #[derive(Debug)]
    pub struct Conn;

    pub fn open(_: &str) -> io::Result<Conn> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "service notifications need Unix sockets",
        ))
    }

    pub fn send(_: &Conn, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::collections::HashMap;
    use std::os::unix::net::UnixDatagram;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::Notifier;

    /// A datagram socket bound in a fresh directory, standing in for systemd.
    fn manager(tag: &str) -> (UnixDatagram, PathBuf) {
        let dir = std::env::temp_dir().join(format!("zoom-ws-notify-{}-{tag}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (socket, path)
    }

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn received(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn one_notifier_serves_every_thread() {
        fn shared<T: Send + Sync>() {}
        shared::<Notifier>();
    }

    #[test]
    fn each_call_sends_one_datagram_to_the_socket_path() {
        let (socket, path) = manager("path");
        let vars = lookup(&[("NOTIFY_SOCKET", path.to_str().unwrap())]);
        let notifier = Notifier::from_lookup(vars, 7).unwrap().expect("a notifier");
        notifier.ready().unwrap();
        notifier
            .status("connected: 2 of 2 live; 10 events, 0 gaps")
            .unwrap();
        notifier.watchdog().unwrap();
        notifier.stopping().unwrap();
        assert_eq!(received(&socket), "READY=1");
        assert_eq!(
            received(&socket),
            "STATUS=connected: 2 of 2 live; 10 events, 0 gaps"
        );
        assert_eq!(received(&socket), "WATCHDOG=1");
        assert_eq!(received(&socket), "STOPPING=1");
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn a_status_cannot_smuggle_another_assignment() {
        let (socket, path) = manager("smuggle");
        let vars = lookup(&[("NOTIFY_SOCKET", path.to_str().unwrap())]);
        let notifier = Notifier::from_lookup(vars, 7).unwrap().unwrap();
        notifier.status("sub-1 failed\nREADY=1\r").unwrap();
        assert_eq!(received(&socket), "STATUS=sub-1 failed READY=1 ");
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_names_start_with_an_at_sign() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("zoom-ws-test-notify-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let vars = lookup(&[("NOTIFY_SOCKET", &format!("@{name}"))]);
        let notifier = Notifier::from_lookup(vars, 7).unwrap().unwrap();
        notifier.ready().unwrap();
        assert_eq!(received(&socket), "READY=1");
    }

    #[test]
    fn no_socket_means_no_notifier_and_a_bad_one_is_an_error() {
        assert!(Notifier::from_lookup(lookup(&[]), 7).unwrap().is_none());
        assert!(
            Notifier::from_lookup(lookup(&[("NOTIFY_SOCKET", "")]), 7)
                .unwrap()
                .is_none()
        );
        let relative = Notifier::from_lookup(lookup(&[("NOTIFY_SOCKET", "run/notify")]), 7);
        assert!(relative.is_err());
    }

    #[test]
    fn a_manager_that_went_away_is_an_error_not_a_panic() {
        let (socket, path) = manager("gone");
        let vars = lookup(&[("NOTIFY_SOCKET", path.to_str().unwrap())]);
        let notifier = Notifier::from_lookup(vars, 7).unwrap().unwrap();
        drop(socket);
        std::fs::remove_file(&path).unwrap();
        assert!(notifier.ready().is_err());
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn the_watchdog_interval_is_ours_only_when_the_pid_matches() {
        let (_socket, path) = manager("watchdog");
        let sock = path.to_str().unwrap();
        let interval = |vars: &[(&str, &str)]| {
            Notifier::from_lookup(lookup(vars), 42)
                .unwrap()
                .unwrap()
                .watchdog_interval()
        };
        let usec = ("WATCHDOG_USEC", "20000000");
        let socket = ("NOTIFY_SOCKET", sock);
        assert_eq!(interval(&[socket, usec]), Some(Duration::from_secs(20)));
        assert_eq!(
            interval(&[socket, usec, ("WATCHDOG_PID", "42")]),
            Some(Duration::from_secs(20))
        );
        assert_eq!(interval(&[socket, usec, ("WATCHDOG_PID", "41")]), None);
        assert_eq!(interval(&[socket]), None);
        assert_eq!(interval(&[socket, ("WATCHDOG_USEC", "soon")]), None);
        assert_eq!(interval(&[socket, ("WATCHDOG_USEC", "0")]), None);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
