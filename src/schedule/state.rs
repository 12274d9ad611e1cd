//! The closed list of contact states (product.md, "Contact states"): the identifiers the
//! database, the JSON reports and the events carry. People read them through the catalogue
//! (`Lang::label`), never as these identifiers.

use serde::{Deserialize, Serialize};

macro_rules! states {
    ($($variant:ident = $id:literal,)*) => {
        /// A contact's state: waiting (`pending`, `scheduled`, `in_progress`) or an outcome.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ContactState {
            $(#[serde(rename = $id)] $variant,)*
        }

        impl ContactState {
            /// Every state, in the order reports list them.
            pub const ALL: &'static [ContactState] = &[$(ContactState::$variant,)*];

            /// The stable identifier.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ContactState::$variant => $id,)*
                }
            }

            /// The state an identifier names; `None` for anything else.
            pub fn parse(id: &str) -> Option<ContactState> {
                match id {
                    $($id => Some(ContactState::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

states! {
    Pending = "pending",
    Scheduled = "scheduled",
    InProgress = "in_progress",
    Confirmed = "confirmed",
    Cancelled = "cancelled",
    Transferred = "transferred",
    NoResponse = "no_response",
    Delivered = "delivered",
    Interested = "interested",
    OptedOut = "opted_out",
    NotInterested = "not_interested",
    Completed = "completed",
    Partial = "partial",
    Connected = "connected",
    Abandoned = "abandoned",
    Unreachable = "unreachable",
    InvalidNumber = "invalid_number",
    Blocked = "blocked",
    Expired = "expired",
    Failed = "failed",
}

impl ContactState {
    /// Still to be called (or being called): not an outcome.
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            ContactState::Pending | ContactState::Scheduled | ContactState::InProgress
        )
    }
}

impl std::fmt::Display for ContactState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ContactState {
    type Err = String;

    fn from_str(s: &str) -> Result<ContactState, String> {
        ContactState::parse(s).ok_or_else(|| format!("`{s}` is not a contact state"))
    }
}

/// What a call reached with a step of its flow: a contact state, or for an inbound call the
/// route it took to the desk (`to_agent`, `no_agent`), which is no contact's state.
/// Stored and shown by its identifier ([`Outcome::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    State(ContactState),
    /// An inbound caller put through to an agent.
    ToAgent,
    /// An inbound caller no agent took.
    NoAgent,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::State(s) => s.as_str(),
            Outcome::ToAgent => "to_agent",
            Outcome::NoAgent => "no_agent",
        }
    }

    /// The outcome of an identifier; `None` for one no flow writes.
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "to_agent" => Some(Outcome::ToAgent),
            "no_agent" => Some(Outcome::NoAgent),
            s => ContactState::parse(s).map(Outcome::State),
        }
    }

    /// The contact state this outcome is, if it is one.
    pub fn state(self) -> Option<ContactState> {
        match self {
            Outcome::State(s) => Some(s),
            _ => None,
        }
    }
}

impl From<ContactState> for Outcome {
    fn from(s: ContactState) -> Outcome {
        Outcome::State(s)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests compare outcomes with their identifiers.
#[cfg(test)]
impl PartialEq<&str> for Outcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Tests compare states with their identifiers.
#[cfg(test)]
impl PartialEq<&str> for ContactState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip_and_serialise_as_themselves() {
        for s in ContactState::ALL {
            assert_eq!(ContactState::parse(s.as_str()), Some(*s));
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(ContactState::ALL.len(), 20);
        assert_eq!(ContactState::parse("Confirmed"), None);
        assert!(ContactState::Scheduled.is_waiting() && !ContactState::Expired.is_waiting());
    }
}
