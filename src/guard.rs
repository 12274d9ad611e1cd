//! Defences in front of the provider's routes: who may call them, and for how long.
//!
//! - `server.allow_from`: the addresses or CIDR blocks the provider calls from. Empty (the
//!   default) allows any source: netelip publishes no ranges, so the secret path segment is
//!   the main defence. A request from elsewhere gets 403 and changes nothing.
//! - `server.trusted_proxies`: reverse proxies (nginx) whose `X-Forwarded-For` is believed.
//!   The client is the right-most address of that header that is not a trusted proxy; from any
//!   other peer the header is ignored, so it cannot be forged to get in.
//! - `server.request_timeout_seconds`: a request (reading its body included) that takes longer
//!   is cut: a control request gets `hangup` (a valid command, never an empty body), a report
//!   503 so that the provider sends it again.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The peer's address, as the handlers see it (`ConnectInfo<PeerAddr>`), over plain TCP or
/// the built-in TLS listener alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

macro_rules! peer_addr_from {
    ($listener:ty) => {
        impl<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, $listener>>
            for PeerAddr
        {
            fn connect_info(stream: axum::serve::IncomingStream<'a, $listener>) -> Self {
                PeerAddr(*stream.remote_addr())
            }
        }
    };
}
peer_addr_from!(tokio::net::TcpListener);
peer_addr_from!(crate::tls::TlsListener);

/// Whether `given` is the secret `expected`, in constant time: both sides are hashed first, so
/// neither the content nor the length of the secret shows in response times.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(given)
        .ct_eq(&Sha256::digest(expected))
        .into()
}

pub use crate::cidr::{canonical, parse_list, Cidr};

/// Who may call the provider routes.
#[derive(Debug, Clone, Default)]
pub struct SourcePolicy {
    pub allow: Vec<Cidr>,
    pub trusted_proxies: Vec<Cidr>,
}

impl SourcePolicy {
    /// `server.allow_from` and `server.trusted_proxies`, parsed.
    pub fn from_config(
        c: &crate::config::Config,
    ) -> Result<SourcePolicy, crate::config::ConfigError> {
        let list = |key: &str, items: &[String]| {
            parse_list(key, items).map_err(crate::config::ConfigError::Rule)
        };
        Ok(SourcePolicy {
            allow: list("server.allow_from", &c.server.allow_from)?,
            trusted_proxies: list("server.trusted_proxies", &c.server.trusted_proxies)?,
        })
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the right-most
    /// `X-Forwarded-For` hop that is not one. An unreadable hop stops the walk at the proxy.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusted(client) {
            return client;
        }
        let Some(header) = forwarded_for else {
            return client;
        };
        for hop in header.rsplit(',') {
            match IpAddr::from_str(hop.trim()) {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.trusted(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }

    /// Whether a request from `peer` (with that `X-Forwarded-For`) may go on.
    pub fn allows(&self, peer: IpAddr, forwarded_for: Option<&str>) -> bool {
        self.allow.is_empty()
            || self
                .allow
                .iter()
                .any(|c| c.contains(self.client_ip(peer, forwarded_for)))
    }
}

/// The guard's settings, shared by the middleware.
#[derive(Debug, Clone)]
pub struct Guard {
    pub policy: SourcePolicy,
    pub timeout: Duration,
    /// What a cut request gets: the route's own reply (the control URL's `hangup` command) or
    /// 503 (the report URL: the provider sends it again).
    pub on_timeout: OnTimeout,
}

#[derive(Debug, Clone, Copy)]
pub enum OnTimeout {
    Reply(fn() -> Response),
    Unavailable,
}

/// Middleware: the allowlist, then the timeout.
pub async fn guard(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    if !g.policy.allow.is_empty() {
        let peer = req
            .extensions()
            .get::<ConnectInfo<PeerAddr>>()
            .map(|c| c.0 .0.ip());
        let xff = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        // Without the peer's address the list cannot be checked: refuse.
        let allowed = peer.is_some_and(|p| g.policy.allows(p, xff));
        if !allowed {
            let shown = peer.map(|p| g.policy.client_ip(p, xff).to_string());
            tracing::warn!(
                source = shown.as_deref().unwrap_or("unknown"),
                "request from an address outside server.allow_from refused"
            );
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    match tokio::time::timeout(g.timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(
                seconds = g.timeout.as_secs_f64(),
                "request cut: over server.request_timeout_seconds"
            );
            match g.on_timeout {
                OnTimeout::Reply(reply) => reply(),
                OnTimeout::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_match() {
        let c: Cidr = "203.0.113.0/24".parse().unwrap();
        assert!(c.contains(ip("203.0.113.7")));
        assert!(!c.contains(ip("203.0.114.7")));
        // What a dual-stack socket reports for an IPv4 client.
        assert!(c.contains(ip("::ffff:203.0.113.9")));
        let one: Cidr = "198.51.100.4".parse().unwrap();
        assert!(one.contains(ip("198.51.100.4")) && !one.contains(ip("198.51.100.5")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("2001:db8::1")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::5")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert!(mapped.contains(ip("10.1.2.3")) && !mapped.contains(ip("11.0.0.1")));
        assert_eq!(mapped, "10.0.0.0/8".parse().unwrap());
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "::/129",
            "host",
            "10.0.0.0/x",
        ] {
            let e = Lang::En.render(&bad.parse::<Cidr>().unwrap_err());
            assert!(e.contains("is not an IP address"), "{bad}: {e}");
        }
        let e = parse_list("server.allow_from", &["10.0.0.0/8".into(), "nope".into()]).unwrap_err();
        assert_eq!(
            Lang::En.render(&e),
            "server.allow_from: `nope` is not an IP address or a CIDR block (like 203.0.113.0/24)"
        );
        assert_eq!(
            Lang::Es.render(&e),
            "server.allow_from: `nope` no es una dirección IP ni un bloque CIDR (como 203.0.113.0/24)"
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let p = SourcePolicy {
            allow: parse_list("a", &["203.0.113.0/24".into()]).unwrap(),
            trusted_proxies: parse_list("t", &["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap(),
        };
        // Straight from the provider.
        assert!(p.allows(ip("203.0.113.5"), None));
        assert!(!p.allows(ip("198.51.100.1"), None));
        // Through nginx on loopback: the client is the right-most untrusted hop.
        assert!(p.allows(ip("127.0.0.1"), Some("203.0.113.5")));
        assert!(p.allows(ip("127.0.0.1"), Some("6.6.6.6, 203.0.113.5, 10.1.1.1")));
        assert!(!p.allows(ip("127.0.0.1"), Some("203.0.113.5, 6.6.6.6")));
        assert!(!p.allows(ip("127.0.0.1"), None));
        // From anyone else the header is ignored: it cannot be forged to get in.
        assert!(!p.allows(ip("198.51.100.1"), Some("203.0.113.5")));
        assert_eq!(
            p.client_ip(ip("198.51.100.1"), Some("203.0.113.5")),
            ip("198.51.100.1")
        );
        // Garbage in the header stops at the proxy.
        assert!(!p.allows(ip("127.0.0.1"), Some("203.0.113.5, garbage")));
        // No list: everyone (the secret path is the defence).
        assert!(SourcePolicy::default().allows(ip("6.6.6.6"), None));
    }
}
