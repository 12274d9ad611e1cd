//! Speech capture at the webhook: what capture steps heard is stored with the contact before
//! the reply leaves, and the Google key the provider echoes back is kept out of the events.
//!
//! Guarantees: a stored control request never holds the options of a `google_voice2text`
//! (they begin with the key); logs name the field and the length of a transcript, never its
//! text.

use crate::flow::{Captured, ControlRequest, GOOGLE_VOICE2TEXT};
use crate::store::{CaptureWrite, Result, Store};

/// The key sent to the built-in simulator, which takes any key.
pub const SIMULATOR_KEY: &str = "simulator";

/// What replaces the echoed options of a speech-to-text in stored events.
pub const REDACTED: &str = "***";

/// The fields of a control request as JSON for the `call_events` table, without the key.
pub fn event_fields(req: &ControlRequest) -> String {
    let json = if req.get("command") == GOOGLE_VOICE2TEXT && req.fields.contains_key("options") {
        let mut fields = req.fields.clone();
        fields.insert("options".into(), REDACTED.into());
        serde_json::to_string(&fields)
    } else {
        serde_json::to_string(&req.fields)
    };
    json.unwrap_or_else(|_| "{}".into())
}

/// Stores what the capture steps of one reply heard.
pub async fn store_captures(
    store: &Store,
    attempt_id: i64,
    captures: &[Captured],
    now: i64,
) -> Result<()> {
    for c in captures {
        let write = CaptureWrite {
            attempt_id,
            field: c.field.clone(),
            text: c.text.clone(),
            failed: c.failed,
        };
        store.record_capture(&write, now).await?;
        match &c.text {
            Some(t) => {
                tracing::info!(attempt = attempt_id, field = %c.field, chars = t.chars().count(), "speech captured")
            }
            None => {
                tracing::info!(attempt = attempt_id, field = %c.field, failed = c.failed, "nothing understood")
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echoed_key_never_reaches_the_events() {
        let req = ControlRequest {
            fields: [
                ("command", GOOGLE_VOICE2TEXT),
                ("options", "AIzaSECRET;es;2;1"),
                ("description", "hola"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let stored = event_fields(&req);
        assert!(!stored.contains("AIzaSECRET"), "{stored}");
        assert!(stored.contains("hola"));
    }
}
