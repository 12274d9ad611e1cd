//! Events to the customer's systems: a campaign's `[events]` (`url`, `types`), the body each
//! event is POSTed with and its signature.
//!
//! The rows are written by the store in the transaction that records each fact (migration
//! 0009) and delivered by the outbox task of [`crate::notify`], which also carries the
//! reminder's `notify_url` (a `contact.final` shorthand with its own payload).
//!
//! Body: `{"id", "type", "time", "campaign", "contact": {"phone", "name", "vars"}, "data"}`.
//! Headers: `Idempotency-Key` (the event id) and, with `[events] secret_file` set,
//! `Pregonero-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use crate::store::{Delivery, EVENT_TYPES};

/// `[events]` of a campaign.toml, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsFile {
    pub url: Option<String>,
    pub types: Option<Vec<String>>,
}

/// A campaign's events receiver, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsSettings {
    pub url: String,
    /// The types it receives (all of them unless `types` says otherwise).
    pub types: Vec<String>,
}

impl EventsFile {
    /// Validates the section; `None` when it names no URL. Errors name the key at fault.
    pub fn settings(&self) -> Result<Option<EventsSettings>, crate::i18n::Msg> {
        use crate::i18n::Msg;
        let Some(url) = self.url.as_deref().map(str::trim) else {
            if self.types.is_some() {
                return Err(Msg::new("rule.events_no_url"));
            }
            return Ok(None);
        };
        let valid = reqwest::Url::parse(url)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !valid {
            return Err(Msg::new("rule.http_url").arg("key", "events.url"));
        }
        let types = match &self.types {
            None => EVENT_TYPES.iter().map(|t| t.to_string()).collect(),
            Some(list) => {
                let mut out: Vec<String> = Vec::new();
                for t in list {
                    let t = t.trim();
                    if !EVENT_TYPES.contains(&t) {
                        return Err(Msg::new("rule.events_type")
                            .arg("value", t)
                            .arg("types", EVENT_TYPES.join(", ")));
                    }
                    if !out.iter().any(|o| o == t) {
                        out.push(t.to_string());
                    }
                }
                if out.is_empty() {
                    return Err(Msg::new("rule.events_types_empty"));
                }
                out
            }
        };
        Ok(Some(EventsSettings {
            url: url.to_string(),
            types,
        }))
    }
}

/// The event id of an outbox row: the body's `id` and the `Idempotency-Key`.
pub fn event_id(row: i64) -> String {
    format!("pregonero-event-{row}")
}

fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The JSON body of an event row, as sent (and signed).
pub fn body(d: &Delivery) -> String {
    let mut data: serde_json::Value = d
        .data
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_else(|| json!({}));
    // What the callee said, as the capture steps wrote it down.
    if let (false, Some(obj)) = (d.transcripts.is_empty(), data.as_object_mut()) {
        obj.insert("transcripts".into(), json!(d.transcripts));
    }
    json!({
        "id": event_id(d.id),
        "type": d.event,
        "time": rfc3339(d.created_at),
        "campaign": d.campaign_id,
        "contact": {"phone": d.phone, "name": d.name, "vars": d.vars},
        "data": data,
    })
    .to_string()
}

/// `t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<body>">`: the `Pregonero-Signature` header.
pub fn signature(secret: &[u8], unix: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("t={unix},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(url: Option<&str>, types: Option<&[&str]>) -> EventsFile {
        EventsFile {
            url: url.map(String::from),
            types: types.map(|t| t.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn every_type_is_sent_unless_types_says_otherwise() {
        let s = file(Some(" https://crm.example.com/hooks "), None)
            .settings()
            .unwrap()
            .unwrap();
        assert_eq!(s.url, "https://crm.example.com/hooks");
        assert_eq!(s.types.len(), EVENT_TYPES.len());
        let s = file(
            Some("http://127.0.0.1:9/x"),
            Some(&["call.ended", "optout", "call.ended"]),
        )
        .settings()
        .unwrap()
        .unwrap();
        assert_eq!(s.types, ["call.ended", "optout"]);
        assert_eq!(file(None, None).settings().unwrap(), None);
    }

    #[test]
    fn bad_sections_are_named() {
        let err = |f: EventsFile| crate::i18n::Lang::En.render(&f.settings().unwrap_err());
        assert!(err(file(Some("ftp://x"), None)).contains("events.url"));
        assert!(err(file(Some("http://x"), Some(&["call.rang"]))).contains("\"call.rang\""));
        assert!(err(file(Some("http://x"), Some(&[]))).contains("events.types is empty"));
        assert!(err(file(None, Some(&["optout"]))).contains("events.url is missing"));
        let es = crate::i18n::Lang::Es
            .render(&file(Some("http://x"), Some(&[])).settings().unwrap_err());
        assert!(es.contains("events.types está vacío"), "{es}");
    }

    /// HMAC-SHA256 written out from its definition (RFC 2104), independent of the `hmac` crate.
    fn hmac_by_hand(key: &[u8], message: &[u8]) -> String {
        use sha2::Digest;
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let inner: Vec<u8> = k
            .iter()
            .map(|b| b ^ 0x36)
            .chain(message.iter().copied())
            .collect();
        let inner = Sha256::digest(&inner);
        let outer: Vec<u8> = k
            .iter()
            .map(|b| b ^ 0x5c)
            .chain(inner.iter().copied())
            .collect();
        Sha256::digest(&outer)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // RFC 4231 test case 2 checks the construction by hand first.
        assert_eq!(
            hmac_by_hand(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let body = r#"{"id":"pregonero-event-1","type":"call.ended"}"#;
        let s = signature(b"s3cret", 1_780_000_000, body);
        let expected = hmac_by_hand(b"s3cret", format!("1780000000.{body}").as_bytes());
        assert_eq!(s, format!("t=1780000000,v1={expected}"));
        let long_key = [7u8; 100];
        assert_eq!(
            signature(&long_key, 5, "x"),
            format!("t=5,v1={}", hmac_by_hand(&long_key, b"5.x"))
        );
    }

    fn campaign(events: &str) -> Result<crate::campaign::Campaign, String> {
        let text = format!(
            "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola\"\n{events}"
        );
        crate::campaign::Campaign::parse(
            "c1",
            std::path::Path::new("campaigns/c1"),
            std::path::Path::new("campaigns/c1/campaign.toml"),
            &text,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_campaign_file_names_its_receiver_or_says_what_is_wrong() {
        let c = campaign("[events]\nurl = \"https://crm.example.com/h\"\ntypes = [\"optout\"]\n")
            .unwrap();
        let e = c.events.unwrap();
        assert_eq!(
            (e.url.as_str(), e.types),
            ("https://crm.example.com/h", vec!["optout".to_string()])
        );
        assert_eq!(campaign("").unwrap().events, None);
        let err = campaign("[events]\nurl = \"https://x\"\ntypes = [\"call.rang\"]\n").unwrap_err();
        assert!(
            err.contains("campaign.toml") && err.contains("\"call.rang\""),
            "{err}"
        );
        let err = campaign("[events]\nurl = \"https://x\"\nsecret = \"s\"\n").unwrap_err();
        assert!(err.contains("secret"), "{err}");
    }

    #[test]
    fn the_signing_key_comes_from_secret_file_or_its_environment_variable() {
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("events.key");
        std::fs::write(&key, "  k3y\n").unwrap();
        let env = vec![(
            "PREGONERO_EVENTS_SECRET_FILE".to_string(),
            key.display().to_string(),
        )];
        let config = crate::config::Config::load_with_env(None, &env).unwrap();
        let secret = config.events_secret().unwrap().unwrap();
        assert_eq!(secret.expose_secret(), "k3y");
        assert!(crate::config::Config::default()
            .events_secret()
            .unwrap()
            .is_none());
        std::fs::write(&key, "\n").unwrap();
        let err = config.events_secret().unwrap_err().to_string();
        assert!(
            err.contains("events.secret_file") && err.contains("empty"),
            "{err}"
        );
        std::fs::remove_file(&key).unwrap();
        let err = config.events_secret().unwrap_err().to_string();
        assert!(err.contains("events.key"), "{err}");
    }
}
