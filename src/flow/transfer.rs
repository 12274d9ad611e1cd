//! Whether an agent took a transferred call, from every signal the provider gives.
//!
//! A `dial` result with `ANSWER` arrives only when the agent's side ends the bridge: the call
//! comes back to the flow. When the callee hangs up first, no result comes at all, only the
//! end-of-call request; a `queue` may answer with a bare `OK`. So the outcome is decided from
//! three signals, whichever comes first with a proof (see [`crate::provider`], "Assumptions"):
//!
//! 1. the transfer's result: `ANSWER` in `description` or `status` proves the bridge; a
//!    failure word (`NOANSWER`, `BUSY`, a queue's `TIMEOUT`…) proves nobody took it; anything
//!    else (a bare `OK`) proves nothing;
//! 2. the end-of-call request: a call that stayed in its transfer longer than the agent's
//!    phone rings (plus a margin) was bridged, since a `dial` gives up at the end of its ring
//!    time. A shorter stay proves nothing (the agent may have answered at once);
//! 3. the call report: a leg of the call to another destination than the callee (the agent's
//!    extension or number) that was answered and billed proves the bridge, even after the
//!    attempt closed. Such a leg never closes the attempt: its status is the agent's, not the
//!    callee's.
//!
//! Until a proof comes, the call keeps the flow's outcome of a transfer nobody took (sales
//! `abandoned`, promotion `interested`).

use super::ControlRequest;

/// Words of a transfer's result that say nobody took the call (a `dial`'s `DIALSTATUS`, a
/// `queue`'s `QUEUESTATUS`).
const NOT_TAKEN: &[&str] = &[
    "NOANSWER",
    "NO_ANSWER",
    "BUSY",
    "CHANUNAVAIL",
    "CONGESTION",
    "CANCEL",
    "FAILED",
    "TIMEOUT",
    "FULL",
    "JOINEMPTY",
    "LEAVEEMPTY",
    "JOINUNAVAIL",
    "LEAVEUNAVAIL",
];

/// What a transfer's result request proves: `Some(true)` an agent took the call,
/// `Some(false)` nobody did, `None` nothing either way.
pub fn result_verdict(req: &ControlRequest) -> Option<bool> {
    let said = [req.get("description"), req.get("status")];
    if said.iter().any(|s| s.eq_ignore_ascii_case("ANSWER")) {
        return Some(true);
    }
    if said
        .iter()
        .any(|s| NOT_TAKEN.iter().any(|w| s.eq_ignore_ascii_case(w)))
    {
        return Some(false);
    }
    None
}

/// What a call that left its transfer step after `in_transfer_ms` proves, for an agent's
/// phone that rings `window_ms` (`None`: a queue, whose wait the PBX decides): `true` when it
/// stayed beyond the ring time and a margin (a fifth of it, at least `margin_floor_ms`).
pub fn lasted_verdict(in_transfer_ms: i64, window_ms: Option<i64>, margin_floor_ms: i64) -> bool {
    match window_ms {
        Some(w) if w > 0 => in_transfer_ms > w + (w / 5).max(margin_floor_ms),
        _ => false,
    }
}

/// What one report line of a call proves about its transfer: an answered, billed leg to
/// someone other than the callee was an agent taking the call.
pub fn leg_verdict(callee_leg: bool, status: &str, billed_seconds: i64) -> bool {
    !callee_leg && status.eq_ignore_ascii_case("answer") && billed_seconds > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> ControlRequest {
        ControlRequest {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_result_proves_a_bridge_a_refusal_or_nothing() {
        let answer = req(&[("command", "dial"), ("description", "ANSWER")]);
        assert_eq!(result_verdict(&answer), Some(true));
        let status = req(&[("command", "queue"), ("status", "answer")]);
        assert_eq!(result_verdict(&status), Some(true));
        for word in ["NOANSWER", "busy", "TIMEOUT", "LEAVEEMPTY"] {
            let r = req(&[("command", "queue"), ("description", word)]);
            assert_eq!(result_verdict(&r), Some(false), "{word}");
        }
        let bare = req(&[
            ("command", "queue"),
            ("status", "OK"),
            ("statuscode", "200"),
        ]);
        assert_eq!(result_verdict(&bare), None);
    }

    #[test]
    fn only_a_stay_beyond_the_ring_time_proves_a_bridge() {
        assert!(lasted_verdict(30_000, Some(20_000), 1000));
        assert!(!lasted_verdict(23_000, Some(20_000), 1000));
        assert!(!lasted_verdict(5_000, Some(20_000), 1000));
        assert!(!lasted_verdict(600_000, None, 1000));
        // A short window still needs the floor of the margin.
        assert!(!lasted_verdict(25, Some(20), 10));
        assert!(lasted_verdict(31, Some(20), 10));
    }

    #[test]
    fn only_an_answered_billed_agent_leg_proves_a_bridge() {
        assert!(leg_verdict(false, "answer", 12));
        assert!(!leg_verdict(true, "answer", 12));
        assert!(!leg_verdict(false, "answer", 0));
        assert!(!leg_verdict(false, "busy", 0));
    }
}
