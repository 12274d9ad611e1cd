//! systemd's service notification protocol (`sd_notify(3)`), spoken directly: each message is
//! one datagram of `KEY=VALUE` lines sent to the Unix socket named by `$NOTIFY_SOCKET` (a file
//! path, or `@name` for the Linux abstract namespace). It lets a `Type=notify` unit know when the
//! daemon is really serving (`READY=1`), when it begins to drain (`STOPPING=1`), and — with
//! `WatchdogSec=` — that it is still healthy (`WATCHDOG=1`).
//!
//! Guarantees: without `$NOTIFY_SOCKET` (started by hand, by a test, or by `Type=simple`) every
//! call does nothing; a send never blocks the caller (the socket is non-blocking); a failed send
//! is logged, never fatal. The watchdog only pings after the caller's health check passed, so a
//! daemon whose database stopped answering or whose main tasks hung stops pinging and systemd
//! restarts it (see [`run_watchdog`] and `crate::liveness`).

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Where notifications go: the value of `$NOTIFY_SOCKET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyAddr {
    /// A socket file, e.g. `/run/systemd/notify`.
    Path(PathBuf),
    /// A Linux abstract-namespace name (written `@name`; the name excludes the `@`).
    Abstract(Vec<u8>),
}

impl NotifyAddr {
    /// Parses `$NOTIFY_SOCKET`: an absolute path or `@name`. Other forms (systemd also knows
    /// `vsock:`) are not supported and give `None`.
    pub fn parse(value: &str) -> Option<NotifyAddr> {
        if let Some(name) = value.strip_prefix('@') {
            if name.is_empty() {
                return None;
            }
            return Some(NotifyAddr::Abstract(name.as_bytes().to_vec()));
        }
        if value.starts_with('/') {
            return Some(NotifyAddr::Path(PathBuf::from(value)));
        }
        None
    }
}

/// The ping interval systemd asks for: half of `$WATCHDOG_USEC` (as `sd_watchdog_enabled(3)`
/// recommends), provided `$WATCHDOG_PID` is unset or names this process.
pub fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    if usec == 0 {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

/// A connection to systemd's notification socket, or nothing.
#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Duration>,
}

#[derive(Debug)]
struct Target {
    #[cfg(unix)]
    socket: std::os::unix::net::UnixDatagram,
    addr: NotifyAddr,
}

impl Notifier {
    /// The notifier systemd set up for this process (`$NOTIFY_SOCKET`, `$WATCHDOG_USEC`,
    /// `$WATCHDOG_PID`); disabled when the variables are absent.
    pub fn from_env() -> Notifier {
        let Some(value) = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            return Notifier::disabled();
        };
        let watchdog = watchdog_interval(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        let Some(addr) = NotifyAddr::parse(&value) else {
            tracing::warn!(
                "NOTIFY_SOCKET={value} is not a socket path or @name: systemd will not be notified"
            );
            return Notifier::disabled();
        };
        match Notifier::connect(addr, watchdog) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(
                    "cannot open a socket for NOTIFY_SOCKET={value} ({e}): systemd will not be notified"
                );
                Notifier::disabled()
            }
        }
    }

    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier {
            target: None,
            watchdog: None,
        }
    }

    /// A notifier sending to `addr`, pinging every `watchdog` when that is set (tests pass their
    /// own socket here instead of changing the process environment).
    pub fn connect(addr: NotifyAddr, watchdog: Option<Duration>) -> io::Result<Notifier> {
        #[cfg(unix)]
        {
            let socket = std::os::unix::net::UnixDatagram::unbound()?;
            socket.set_nonblocking(true)?;
            Ok(Notifier {
                target: Some(Target { socket, addr }),
                watchdog,
            })
        }
        #[cfg(not(unix))]
        {
            let _ = (addr, watchdog);
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "systemd notification needs Unix sockets",
            ))
        }
    }

    /// Whether messages go anywhere.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// How often the watchdog wants a ping (`None`: no watchdog).
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.target.as_ref().and(self.watchdog)
    }

    /// Sends one message of `KEY=VALUE` lines. Line breaks inside a value are replaced by
    /// spaces: they would start a new assignment.
    pub fn send(&self, fields: &[(&str, &str)]) -> io::Result<()> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        let mut msg = String::new();
        for (key, value) in fields {
            msg.push_str(key);
            msg.push('=');
            msg.extend(value.chars().map(|c| if c == '\n' { ' ' } else { c }));
            msg.push('\n');
        }
        target.send(msg.as_bytes())
    }

    /// `READY=1`: start-up is over and the daemon serves.
    pub fn ready(&self, status: &str) {
        self.log_failure("READY=1", self.send(&[("READY", "1"), ("STATUS", status)]));
    }

    /// `STOPPING=1`: shutdown has begun (systemd now waits up to `TimeoutStopSec=`).
    pub fn stopping(&self, status: &str) {
        self.log_failure(
            "STOPPING=1",
            self.send(&[("STOPPING", "1"), ("STATUS", status)]),
        );
    }

    /// A free-form status line (`systemctl status` shows it).
    pub fn status(&self, status: &str) {
        self.log_failure("STATUS", self.send(&[("STATUS", status)]));
    }

    /// `WATCHDOG=1`: still healthy.
    pub fn watchdog(&self) {
        self.log_failure("WATCHDOG=1", self.send(&[("WATCHDOG", "1")]));
    }

    fn log_failure(&self, what: &str, result: io::Result<()>) {
        if let Err(e) = result {
            tracing::warn!("cannot send {what} to systemd: {e}");
        }
    }
}

impl Target {
    #[cfg(unix)]
    fn send(&self, msg: &[u8]) -> io::Result<()> {
        let sent = match &self.addr {
            NotifyAddr::Path(path) => self.socket.send_to(msg, path)?,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            NotifyAddr::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                self.socket.send_to_addr(msg, &addr)?
            }
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            NotifyAddr::Abstract(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "abstract socket names exist only on Linux",
                ))
            }
        };
        if sent != msg.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the notification was truncated",
            ));
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn send(&self, _msg: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// Pings the watchdog every `interval` while `healthy()` answers `Ok` within that interval;
/// stops at `stop`. On the first failed check it sends a `STATUS=` line with the reason instead
/// of the ping (so `systemctl status` and the journal say why a restart follows), and on
/// recovery `STATUS=<recovered>` again.
pub async fn run_watchdog<F, Fut>(
    notifier: &Notifier,
    interval: Duration,
    recovered: &str,
    stop: CancellationToken,
    mut healthy: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let verdict = match tokio::time::timeout(interval, healthy()).await {
            Ok(v) => v,
            Err(_) => Err(format!(
                "the health check did not answer within {} ms",
                interval.as_millis()
            )),
        };
        match verdict {
            Ok(()) => {
                if failing {
                    tracing::info!("watchdog: healthy again");
                    notifier.status(recovered);
                    failing = false;
                }
                notifier.watchdog();
            }
            Err(why) => {
                if !failing {
                    tracing::error!("watchdog: not pinging systemd: {why}");
                    notifier.status(&format!("unhealthy: {why}"));
                    failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::sync::{Arc, Mutex};

    fn recv(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 4096];
        let n = socket
            .recv(&mut buf)
            .expect("a datagram within the timeout");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn listening(dir: &tempfile::TempDir) -> (UnixDatagram, PathBuf) {
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (socket, path)
    }

    #[test]
    fn parses_paths_and_abstract_names_only() {
        assert_eq!(
            NotifyAddr::parse("/run/systemd/notify"),
            Some(NotifyAddr::Path("/run/systemd/notify".into()))
        );
        assert_eq!(
            NotifyAddr::parse("@/org/freedesktop/systemd1/notify/42"),
            Some(NotifyAddr::Abstract(
                b"/org/freedesktop/systemd1/notify/42".to_vec()
            ))
        );
        assert_eq!(NotifyAddr::parse("@"), None);
        assert_eq!(NotifyAddr::parse("relative/path"), None);
        assert_eq!(NotifyAddr::parse("vsock:2:1234"), None);
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_for_this_process_only() {
        assert_eq!(
            watchdog_interval(Some("30000000"), None, 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            watchdog_interval(Some("30000000"), Some("7"), 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(watchdog_interval(Some("30000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
    }

    #[test]
    fn disabled_notifier_sends_nothing_and_succeeds() {
        let n = Notifier::disabled();
        assert!(!n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.send(&[("READY", "1")]).unwrap();
        n.ready("serving");
        n.watchdog();
    }

    #[test]
    fn messages_reach_a_socket_file() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, path) = listening(&dir);
        let n = Notifier::connect(NotifyAddr::Path(path), Some(Duration::from_secs(1))).unwrap();
        assert!(n.is_enabled());
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(1)));
        n.ready("serving on 127.0.0.1:8080\nsecond line");
        assert_eq!(
            recv(&socket),
            "READY=1\nSTATUS=serving on 127.0.0.1:8080 second line\n"
        );
        n.watchdog();
        assert_eq!(recv(&socket), "WATCHDOG=1\n");
        n.stopping("draining");
        assert_eq!(recv(&socket), "STOPPING=1\nSTATUS=draining\n");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn messages_reach_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!(
            "pregonero-test-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        );
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let n = Notifier::connect(NotifyAddr::parse(&format!("@{name}")).unwrap(), None).unwrap();
        n.ready("ok");
        assert_eq!(recv(&socket), "READY=1\nSTATUS=ok\n");
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let n = Notifier::connect(NotifyAddr::Path(dir.path().join("absent.sock")), None).unwrap();
        assert!(n.send(&[("READY", "1")]).is_err());
        n.ready("logged, not fatal");
    }

    /// The watchdog pings after each passing check only, says why when a check fails, and
    /// says it recovered.
    #[tokio::test]
    async fn watchdog_pings_only_while_healthy() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, path) = listening(&dir);
        let n = Notifier::connect(NotifyAddr::Path(path), None).unwrap();
        let script: Arc<Mutex<Vec<Result<(), String>>>> = Arc::new(Mutex::new(vec![
            Ok(()),
            Err("database unreachable".into()),
            Err("database unreachable".into()),
            Ok(()),
            Ok(()),
        ]));
        let stop = CancellationToken::new();
        let (s, st) = (script.clone(), stop.clone());
        run_watchdog(&n, Duration::from_millis(1), "serving", stop, move || {
            let next = {
                let mut list = s.lock().unwrap();
                if list.is_empty() {
                    None
                } else {
                    Some(list.remove(0))
                }
            };
            let st = st.clone();
            async move {
                match next {
                    Some(v) => v,
                    None => {
                        st.cancel();
                        Err("script over".into())
                    }
                }
            }
        })
        .await;
        let got: Vec<String> = (0..5).map(|_| recv(&socket)).collect();
        assert_eq!(
            got,
            [
                "WATCHDOG=1\n",
                "STATUS=unhealthy: database unreachable\n",
                "STATUS=serving\n",
                "WATCHDOG=1\n",
                "WATCHDOG=1\n",
            ]
        );
        // The last (failed) check sent its status line and no ping.
        assert_eq!(recv(&socket), "STATUS=unhealthy: script over\n");
        socket.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        assert!(socket.recv(&mut buf).is_err(), "nothing else was sent");
    }

    #[tokio::test]
    async fn a_health_check_that_hangs_counts_as_unhealthy() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, path) = listening(&dir);
        let n = Notifier::connect(NotifyAddr::Path(path), None).unwrap();
        let stop = CancellationToken::new();
        let st = stop.clone();
        let calls = Arc::new(Mutex::new(0));
        let c = calls.clone();
        run_watchdog(&n, Duration::from_millis(5), "serving", stop, move || {
            let mut k = c.lock().unwrap();
            *k += 1;
            if *k == 2 {
                st.cancel();
            }
            std::future::pending::<Result<(), String>>()
        })
        .await;
        let first = recv(&socket);
        assert!(
            first.starts_with("STATUS=unhealthy: the health check did not answer"),
            "{first}"
        );
    }
}
