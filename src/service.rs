//! The call service: answers the provider's requests about calls — a control request of an
//! outbound call ([`CallService::control`]), of a callee calling back
//! ([`CallService::inbound`]), and the lines of a call report ([`CallService::report_lines`])
//! — from the facts of calls in flight ([`InFlight`]) and the store. No HTTP here: the webhook
//! decodes a request, checks its secret, and turns a [`Reply`] into a response.
//!
//! Guarantees: what a request teaches (keys, outcomes, captures, an opt-out, the transfer's
//! facts) is stored before its reply is returned; a request that is not ours (another API
//! instance, another call's id) is refused and changes nothing; a call we did not launch has
//! its event stored and is hung up.

mod control;
mod inbound;
mod report;

use std::sync::Arc;

use secrecy::SecretString;

use crate::calls::{Campaigns, InFlight};
use crate::clock::SharedClock;
use crate::flow::{self, Command, ControlRequest};
use crate::metrics::Metrics;
use crate::store::{ReportLine, Store, StoreError};

/// What answers the provider's requests, and what it needs to.
pub struct CallService {
    pub store: Store,
    pub campaigns: Campaigns,
    pub in_flight: Arc<InFlight>,
    pub clock: SharedClock,
    /// The simulator's speed (retry delays are divided by it); 1 for real calls.
    pub time_scale: f64,
    pub metrics: Arc<Metrics>,
    /// Our API Voice instance: a control request naming another one is refused.
    pub api: String,
    /// The agent desk: routes `desk:TEAM` transfers (`crate::desk::routing`).
    pub desk: Arc<crate::desk::hub::Desk>,
    /// The callback flow's settings (`[inbound]`) and the region of numbers written without
    /// `+CC` (`[calling] default_region`), for inbound calls.
    pub inbound: crate::config::InboundConfig,
    pub default_region: Option<phonenumber::country::Id>,
    /// The key `google_voice2text` commands carry (`[voice] google_key_file`).
    pub google_key: Option<SecretString>,
    /// The provider's unknowns as configured (`[provider]`; `crate::provider`, "Assumptions").
    pub adapter: flow::Adapter,
}

/// The answer to a control request, before it is a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Nothing to run: `{}` (an end request, a request with no context).
    Nothing,
    /// The command the call runs next.
    Command(Command),
    /// Not ours to answer (another API instance, another call's id): refused with a valid
    /// command (`hangup` with the reason), so the provider never plays `Command not found`.
    Refused(&'static str),
}

impl CallService {
    /// The reply to a control request of an outbound call.
    pub async fn control(&self, req: &ControlRequest) -> Result<Reply, StoreError> {
        control::answer(self, req).await
    }

    /// The reply to a request of the inbound (callback) flow.
    pub async fn inbound(&self, req: &ControlRequest) -> Result<Reply, StoreError> {
        inbound::answer(self, req).await
    }

    /// Stores report lines of batch `batch_id` and closes the attempts no control request
    /// closed; returns how many it closed. Idempotent: a batch cut by a crash is applied whole
    /// when it comes again.
    pub async fn report_lines(
        &self,
        batch_id: i64,
        lines: &[ReportLine],
        now: i64,
    ) -> Result<usize, StoreError> {
        report::apply_lines(self, batch_id, lines, now).await
    }
}
