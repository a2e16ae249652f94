//! A real etcd for the high-availability tests: Debian's `etcd-server` (3.4 and later), one or
//! three members on 127.0.0.1 with ephemeral ports and a temporary data directory, stopped and
//! removed when dropped. Without the binary the tests skip with a message, except in CI
//! (`CI=true`), where a missing etcd fails them.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The etcd binary, or `None` (with a message) when the tests should skip.
pub fn binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("etcd"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "etcd is not installed, and CI=true: install Debian's etcd-server"
        );
        eprintln!("SKIPPED: etcd is not installed (apt-get install etcd-server)");
    }
    found
}

struct Member {
    name: String,
    client: u16,
    peer: u16,
    child: Option<Child>,
}

/// An etcd cluster of one or more members.
pub struct Cluster {
    binary: PathBuf,
    dir: PathBuf,
    members: Vec<Member>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().unwrap().port()
}

impl Cluster {
    /// `n` members with ports chosen, not started yet.
    pub fn reserve(binary: PathBuf, n: usize) -> Cluster {
        // Memory when there is some: etcd syncs its log on every write, slow on a busy disk.
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "zoom-ws-etcd-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("etcd data directory");
        let members = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client: free_port(),
                peer: free_port(),
                child: None,
            })
            .collect();
        Cluster {
            binary,
            dir,
            members,
        }
    }

    /// `n` members, started and healthy.
    pub fn start(binary: PathBuf, n: usize) -> Cluster {
        let mut cluster = Cluster::reserve(binary, n);
        cluster.launch();
        cluster
    }

    /// Starts every member and waits until each answers as healthy.
    pub fn launch(&mut self) {
        let initial: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer))
            .collect();
        let initial = initial.join(",");
        for m in &mut self.members {
            let client = format!("http://127.0.0.1:{}", m.client);
            let peer = format!("http://127.0.0.1:{}", m.peer);
            let log = std::fs::File::create(self.dir.join(format!("{}.log", m.name))).unwrap();
            let child = Command::new(&self.binary)
                .args(["--name", &m.name])
                .arg("--data-dir")
                .arg(self.dir.join(&m.name))
                .args([
                    "--listen-client-urls",
                    &client,
                    "--advertise-client-urls",
                    &client,
                ])
                .args([
                    "--listen-peer-urls",
                    &peer,
                    "--initial-advertise-peer-urls",
                    &peer,
                ])
                .args([
                    "--initial-cluster",
                    &initial,
                    "--initial-cluster-state",
                    "new",
                ])
                .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start etcd");
            m.child = Some(child);
        }
        let until = Instant::now() + Duration::from_secs(30);
        for i in 0..self.members.len() {
            while !self.healthy(i) {
                assert!(Instant::now() < until, "etcd did not become healthy");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The members' client URLs, comma-separated (for `ZOOM_HA_ETCD`).
    pub fn urls(&self) -> String {
        let urls: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client))
            .collect();
        urls.join(",")
    }

    /// True when member `i` answers `GET /health` with `"health":"true"`.
    pub fn healthy(&self, i: usize) -> bool {
        let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", self.members[i].client)) else {
            return false;
        };
        tcp.set_read_timeout(Some(Duration::from_secs(2))).ok();
        let request = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        let mut answer = String::new();
        tcp.write_all(request.as_bytes()).is_ok()
            && tcp.read_to_string(&mut answer).is_ok()
            && answer.contains(r#""health":"true""#)
    }

    fn signal(&self, i: usize, signal: libc::c_int) {
        if let Some(child) = &self.members[i].child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(child.id() as libc::pid_t, signal);
            }
        }
    }

    /// Member `i` stops in its tracks (SIGSTOP): its sockets accept but nothing answers.
    pub fn freeze(&self, i: usize) {
        self.signal(i, libc::SIGSTOP);
    }

    pub fn thaw(&self, i: usize) {
        self.signal(i, libc::SIGCONT);
    }

    /// Member `i` dies (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.thaw(i);
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP path to an etcd member that the test can cut, as a network that drops packets: while
/// cut, connections are accepted and what is sent on them goes nowhere.
pub struct Path {
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Path {
    /// A path to `url`'s port on 127.0.0.1.
    pub fn to(url: &str) -> Path {
        use std::sync::atomic::AtomicBool;
        let target: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = std::sync::Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || pump(from, to, &flag));
                }
            }
        });
        Path { port, cut }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either closes; while `cut`, what is read is dropped.
fn pump(mut from: TcpStream, mut to: TcpStream, cut: &std::sync::atomic::AtomicBool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) if !cut.load(std::sync::atomic::Ordering::SeqCst) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Ok(_) => {}
        }
    }
    to.shutdown(std::net::Shutdown::Write).ok();
}
