//! What happens to a contact after an attempt: its next state and, for a retry, when it is due.
//! Pure functions of the attempt result and time, so they are tested without a database.
//! Calling windows (`window`) and cron rounds build on this module.

pub mod holidays;
pub mod window;
pub mod zones;

use crate::campaign::RetryDelays;

/// How an attempt ended, from the provider's point of view (apivoice.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// The callee answered; the flow outcome decides the contact's state.
    Answered,
    Busy,
    NoAnswer,
    /// `CHANUNAVAIL`: the number does not exist or the phone is off.
    Unreachable,
    /// `CONGESTION`, `UNKNOW`: network failure.
    Congestion,
    /// The provider refused this request for good (103, 406).
    Failed,
    /// Launched, but neither a control request nor a report line ever told how it ended.
    Lost,
}

impl AttemptResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Answered => "answered",
            AttemptResult::Busy => "busy",
            AttemptResult::NoAnswer => "no_answer",
            AttemptResult::Unreachable => "unreachable",
            AttemptResult::Congestion => "congestion",
            AttemptResult::Failed => "failed",
            AttemptResult::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "answered" => AttemptResult::Answered,
            "busy" => AttemptResult::Busy,
            "no_answer" => AttemptResult::NoAnswer,
            "unreachable" => AttemptResult::Unreachable,
            "congestion" => AttemptResult::Congestion,
            "failed" => AttemptResult::Failed,
            "lost" => AttemptResult::Lost,
            _ => return None,
        })
    }

    /// Maps a provider call status (`statuscall` or a report line's `status`, any case).
    /// `answered` tells whether the call had been answered (a start request was seen, or
    /// answered seconds are known), which turns a `CANCEL` into the callee hanging up.
    pub fn from_provider(status: &str, answered: bool) -> Option<Self> {
        Some(match status.trim().to_ascii_uppercase().as_str() {
            "ANSWER" | "ANSWERED" => AttemptResult::Answered,
            "BUSY" => AttemptResult::Busy,
            "NOANSWER" | "NO_ANSWER" => AttemptResult::NoAnswer,
            "CHANUNAVAIL" => AttemptResult::Unreachable,
            "CONGESTION" | "UNKNOW" | "UNKNOWN" | "FAILED" => AttemptResult::Congestion,
            "CANCEL" | "HANGUP" => {
                if answered {
                    AttemptResult::Answered
                } else {
                    AttemptResult::NoAnswer
                }
            }
            _ => return None,
        })
    }
}

/// The retry policy of a campaign.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub delays: RetryDelays,
}

/// What the contact becomes after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextState {
    pub state: String,
    /// Due time (ms) of the next attempt when `state` is `scheduled`.
    pub next_at: Option<i64>,
}

/// Decides a contact's state after an attempt ended.
///
/// `attempts` counts the attempts placed so far, this one included; `previous` is the result of
/// the attempt before this one. The outcome of an answered call comes from its flow; an answered
/// call that reached no outcome is `no_response` (there is no answering-machine detection).
pub fn after_attempt(
    policy: &RetryPolicy,
    attempts: u32,
    result: AttemptResult,
    previous: Option<AttemptResult>,
    flow_outcome: Option<&str>,
    now_ms: i64,
) -> NextState {
    let done = |s: &str| NextState {
        state: s.to_string(),
        next_at: None,
    };
    let retry = |delay: std::time::Duration, final_state: &str| {
        if attempts < policy.max_attempts {
            NextState {
                state: "scheduled".into(),
                next_at: Some(now_ms + delay.as_millis() as i64),
            }
        } else {
            done(final_state)
        }
    };
    match result {
        AttemptResult::Answered => done(flow_outcome.unwrap_or("no_response")),
        AttemptResult::Failed => done("failed"),
        AttemptResult::Busy => retry(policy.delays.busy, "unreachable"),
        AttemptResult::NoAnswer | AttemptResult::Lost => {
            retry(policy.delays.no_answer, "unreachable")
        }
        AttemptResult::Congestion => retry(policy.delays.failed, "unreachable"),
        // CHANUNAVAIL: once more, then the number is taken as invalid.
        AttemptResult::Unreachable => {
            if previous == Some(AttemptResult::Unreachable) {
                done("invalid_number")
            } else {
                retry(policy.delays.unreachable, "invalid_number")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max,
            delays: RetryDelays::default(),
        }
    }

    #[test]
    fn busy_retries_until_attempts_are_spent() {
        let s = after_attempt(&policy(3), 1, AttemptResult::Busy, None, None, 0);
        assert_eq!(s.state, "scheduled");
        assert_eq!(s.next_at, Some(600_000));
        let s = after_attempt(&policy(3), 3, AttemptResult::Busy, None, None, 0);
        assert_eq!(s.state, "unreachable");
    }

    #[test]
    fn answered_takes_the_flow_outcome_or_no_response() {
        let p = policy(3);
        assert_eq!(
            after_attempt(&p, 1, AttemptResult::Answered, None, Some("delivered"), 0).state,
            "delivered"
        );
        assert_eq!(
            after_attempt(&p, 1, AttemptResult::Answered, None, None, 0).state,
            "no_response"
        );
    }

    #[test]
    fn chanunavail_twice_is_an_invalid_number() {
        let p = policy(5);
        assert_eq!(
            after_attempt(&p, 1, AttemptResult::Unreachable, None, None, 0).state,
            "scheduled"
        );
        assert_eq!(
            after_attempt(
                &p,
                2,
                AttemptResult::Unreachable,
                Some(AttemptResult::Unreachable),
                None,
                0
            )
            .state,
            "invalid_number"
        );
    }

    #[test]
    fn provider_statuses_map() {
        assert_eq!(
            AttemptResult::from_provider("noanswer", false),
            Some(AttemptResult::NoAnswer)
        );
        assert_eq!(
            AttemptResult::from_provider("CANCEL", true),
            Some(AttemptResult::Answered)
        );
        assert_eq!(
            AttemptResult::from_provider("CANCEL", false),
            Some(AttemptResult::NoAnswer)
        );
        assert_eq!(
            AttemptResult::from_provider("UNKNOW", false),
            Some(AttemptResult::Congestion)
        );
        assert_eq!(AttemptResult::from_provider("??", false), None);
    }
}
