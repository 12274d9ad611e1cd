//! Built-in TLS: `[server] tls_cert` and `tls_key` (PEM files) make the daemon serve HTTPS
//! itself, with rustls on the `ring` provider (the one reqwest and sqlx already use).
//!
//! Guarantees: a missing, unreadable or malformed certificate or key, or a key that does not
//! belong to the certificate, is one sentence naming the config key and the file, before
//! anything listens. Handshakes run in their own tasks under a deadline
//! ([`HANDSHAKE_TIMEOUT`]), so a client that connects and stalls holds neither the accept loop
//! nor other clients; at most [`MAX_HANDSHAKES`] run at once. HTTP/1.1 only (ALPN `http/1.1`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; further connections wait in the kernel's backlog.
pub const MAX_HANDSHAKES: usize = 256;

/// Why the TLS settings cannot be used; each names the config key and the file. The sentence
/// for people is [`TlsError::msg`]; `Display` is it in English (logs).
#[derive(Debug)]
pub enum TlsError {
    Half(&'static str),
    Read {
        key: &'static str,
        path: PathBuf,
        // Not named `source`: the message already says it, once.
        reason: std::io::Error,
    },
    Pem {
        key: &'static str,
        path: PathBuf,
        message: String,
    },
    NoCert(PathBuf),
    NoKey(PathBuf),
    BadKey {
        path: PathBuf,
        message: String,
    },
    Mismatch {
        key: PathBuf,
        cert: PathBuf,
    },
    BadCert {
        path: PathBuf,
        message: String,
    },
}

impl TlsError {
    /// The sentence for people, from the catalogue.
    pub fn msg(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        let file = |key: &str, path: &std::path::Path| Msg::new(key).arg("file", path.display());
        match self {
            TlsError::Half(key) => Msg::new("tls.half").arg("key", key),
            TlsError::Read { key, path, reason } => file("tls.unreadable", path)
                .arg("key", key)
                .arg("error", reason),
            TlsError::Pem { key, path, message } => {
                file("tls.pem", path).arg("key", key).arg("error", message)
            }
            TlsError::NoCert(path) => file("tls.no_cert", path),
            TlsError::NoKey(path) => file("tls.no_key", path),
            TlsError::BadKey { path, message } => file("tls.bad_key", path).arg("error", message),
            TlsError::Mismatch { key, cert } => Msg::new("tls.mismatch")
                .arg("key", key.display())
                .arg("cert", cert.display()),
            TlsError::BadCert { path, message } => file("tls.bad_cert", path).arg("error", message),
        }
    }
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::i18n::Lang::En.render(&self.msg()))
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for crate::i18n::UserError {
    fn from(e: TlsError) -> Self {
        crate::i18n::UserError::new(e.msg())
    }
}

/// The TLS settings for `[server] tls_cert` / `tls_key`: `None` when neither is set (plain HTTP).
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(TlsError::Half("server.tls_cert")),
        (None, Some(_)) => Err(TlsError::Half("server.tls_key")),
        (Some(cert), Some(key)) => load(cert, key).map(|c| Some(Arc::new(c))),
    }
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|reason| TlsError::Read {
        key,
        path: path.to_path_buf(),
        reason,
    })
}

fn pem_error(key: &'static str, path: &Path, e: pem::Error) -> TlsError {
    TlsError::Pem {
        key,
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Reads and checks a certificate chain and its key.
pub fn load(cert_path: &Path, key_path: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let cert_pem = read("server.tls_cert", cert_path)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("server.tls_cert", cert_path, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(cert_path.to_path_buf()));
    }
    let key_pem = read("server.tls_key", key_path)?;
    let key = match PrivateKeyDer::from_pem_slice(&key_pem) {
        Ok(k) => k,
        Err(pem::Error::NoItemsFound) => return Err(TlsError::NoKey(key_path.to_path_buf())),
        Err(e) => return Err(pem_error("server.tls_key", key_path, e)),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Loaded once here only to blame the right file: a key the provider cannot use.
    provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| TlsError::BadKey {
            path: key_path.to_path_buf(),
            message: e.to_string(),
        })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::BadCert {
            path: cert_path.to_path_buf(),
            message: e.to_string(),
        })?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::Mismatch {
                    key: key_path.to_path_buf(),
                    cert: cert_path.to_path_buf(),
                }
            }
            other => TlsError::BadCert {
                path: cert_path.to_path_buf(),
                message: other.to_string(),
            },
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A TCP listener that hands out connections once their TLS handshake is done; plugs into
/// `axum::serve` like a `TcpListener`.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    timeout: Duration,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
        timeout: Duration,
    ) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            timeout,
            handshakes: JoinSet::new(),
        }
    }

    fn start_handshake(&mut self, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let acceptor = self.acceptor.clone();
        let timeout = self.timeout;
        self.handshakes.spawn(async move {
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => Some((tls, peer)),
                // Scanners and clients that distrust the certificate end up here: not an error
                // of ours, so not worth more than a debug line.
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    None
                }
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    // Both branches are cancel-safe (`TcpListener::accept`, `JoinSet::join_next`), as a
    // `Listener` must be: axum drops this future when shutdown begins.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < MAX_HANDSHAKES;
            let pending = !self.handshakes.is_empty();
            tokio::select! {
                accepted = self.tcp.accept(), if room => match accepted {
                    Ok((stream, peer)) => self.start_handshake(stream, peer),
                    Err(e) => accept_error(e).await,
                },
                Some(done) = self.handshakes.join_next(), if pending => {
                    if let Ok(Some(conn)) = done {
                        return conn;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// As axum does for plain TCP: a per-connection error is ignored; anything else (such as
/// running out of file descriptors) is logged and retried after a second.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept error: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    fn client() -> reqwest::Client {
        let pem = std::fs::read(fixture("cert.pem")).unwrap();
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    async fn serve(timeout: Duration) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let config = server_config(Some(&fixture("cert.pem")), Some(&fixture("key.pem")))
            .unwrap()
            .unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
        let server = tokio::spawn(async move {
            let _ = axum::serve(TlsListener::new(tcp, config, timeout), app).await;
        });
        (addr, server)
    }

    #[test]
    fn the_committed_fixture_loads() {
        let c = load(&fixture("cert.pem"), &fixture("key.pem")).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn errors_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = fixture("cert.pem");
        let key = fixture("key.pem");
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\n%%%\n").unwrap();
        let other_key = fixture("other-key.pem");
        let missing = dir.path().join("missing.pem");

        let cases: Vec<(Result<Option<_>, TlsError>, &[&str])> = vec![
            (
                server_config(Some(&cert), None),
                &["server.tls_key", "together"],
            ),
            (
                server_config(Some(&missing), Some(&key)),
                &["server.tls_cert", "missing.pem", "cannot read"],
            ),
            (
                server_config(Some(&cert), Some(&missing)),
                &["server.tls_key", "missing.pem", "cannot read"],
            ),
            (
                server_config(Some(&key), Some(&key)),
                &["server.tls_cert", "key.pem", "no certificate"],
            ),
            (
                server_config(Some(&cert), Some(&cert)),
                &["server.tls_key", "cert.pem", "no private key"],
            ),
            (
                server_config(Some(&cert), Some(&broken)),
                &["server.tls_key", "broken.pem", "not a usable private key"],
            ),
            (
                server_config(Some(&cert), Some(&garbage)),
                &["server.tls_key", "garbage.pem", "not valid PEM"],
            ),
            (
                server_config(Some(&cert), Some(&other_key)),
                &[
                    "server.tls_key",
                    "other-key.pem",
                    "does not belong",
                    "cert.pem",
                ],
            ),
        ];
        for (result, words) in cases {
            let msg = result.expect_err("an error").to_string();
            for w in words {
                assert!(msg.contains(w), "{msg:?} lacks {w:?}");
            }
            assert!(!msg.contains('\n'), "one line: {msg:?}");
        }
        assert!(server_config(None, None).unwrap().is_none());
    }

    /// A client that connects and never speaks does not delay another one, and is dropped
    /// after the handshake timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_handshake_blocks_nobody_and_times_out() {
        let (addr, server) = serve(Duration::from_millis(300)).await;
        let mut stalled = TcpStream::connect(addr).await.unwrap();
        let r = client()
            .get(format!("https://localhost:{}/healthz", addr.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok");
        // The server closes the silent connection: read sees EOF (or a reset).
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), stalled.read(&mut buf))
            .await
            .expect("the stalled connection was not closed");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
        server.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_https_by_name_and_by_ip_and_refuses_plain_http() {
        let (addr, server) = serve(HANDSHAKE_TIMEOUT).await;
        let http = client();
        for host in ["localhost", "127.0.0.1"] {
            let r = http
                .get(format!("https://{host}:{}/healthz", addr.port()))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{host}");
            assert_eq!(r.version(), reqwest::Version::HTTP_11);
        }
        // A client that does not trust the certificate is refused.
        let r = reqwest::Client::new()
            .get(format!("https://localhost:{}/healthz", addr.port()))
            .send()
            .await;
        assert!(r.is_err());
        // Plain HTTP on the TLS port gets no HTTP answer.
        let r = http
            .get(format!("http://127.0.0.1:{}/healthz", addr.port()))
            .send()
            .await;
        assert!(r.is_err());
        // And the server still serves after those failures.
        let r = http
            .get(format!("https://localhost:{}/healthz", addr.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        server.abort();
    }
}
