//! Callback tasks: an inbound call of a known contact that nobody took (no agent answered, the
//! menu settled nothing) becomes a task to call them back — for the contact's responsible agent
//! (the desk agent who last talked to them), else the campaign's desk team — listed by
//! `pregonero callbacks`, shown on the desk, and sent as a `callback.created` event.
//!
//! With `[inbound] call_back = true` (daemon-wide, or per campaign in its own `[inbound]`)
//! pregonero also calls the contact back itself: the contact is re-armed as due at the first
//! instant its calling window is open (holidays, rounds, campaign dates and a do-not-call
//! entry's hours as the dialer's gate sees them), no sooner than the hold that keeps a caller
//! from being dialled right after calling (`HOLD_MS` from the inbound call's start). Never
//! re-armed: a contact on the do-not-call list for good or on a hashed exclusion list, whose
//! consent lapsed, whose deadline passes first, or in a final state other than "not reached"
//! (confirmed, cancelled, opted out…: `store::REARMABLE`), nor one being dialled now.
//!
//! Why in the transaction that ends the inbound call rather than in a periodic job: the task,
//! its event and the re-arm exist together or not at all, so a crash between them cannot lose a
//! callback or call someone twice, a second daemon has nothing to race for, and the dialer's
//! claim sees the contact due at the right time with no polling. The window is computed before
//! the transaction from the campaign in memory; the claim's gate checks it again at launch.
//! The one periodic part is the sweep of inbound calls whose end request never came (a lost
//! request, a daemon down): after `[provider] stale_call_seconds` they are ended the same way.
//! It runs on one daemon at a time, under the `callbacks` duty lease (`crate::cluster`).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::calls::{ActiveCampaign, Campaigns, Registry as _};
use crate::campaign::consent::ValidFor;
use crate::campaign::plan::CampaignPlan;
use crate::schedule::gate::{Candidate, Gate};
use crate::store::{Finished, InboundEnd, NewCallback, Store, StoreError, REARMABLE};

/// How long a caller matched to a waiting contact is not dialled, from the call's start: well
/// past any callback (divided by the simulator's speed).
pub const HOLD_MS: i64 = 30 * 60 * 1000;

/// How often the duty looks for inbound calls whose end never came.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// What ending an inbound call needs to know of the daemon.
#[derive(Clone)]
pub struct Ctx {
    pub store: Store,
    pub campaigns: Campaigns,
    /// `[inbound] call_back` of the config file: the default of every campaign.
    pub call_back: bool,
    /// The simulator's speed (1 with the real provider): the hold is divided by it.
    pub time_scale: f64,
}

/// When a contact may be called back, at or after `from`: the first instant the dialer's gate
/// would launch it, or `None` when it never would (do-not-call for good, lapsed consent,
/// deadline, no window ahead).
pub fn call_back_time(
    plan: &CampaignPlan,
    candidate: &Candidate,
    consent: Option<ValidFor>,
    from: i64,
) -> Option<i64> {
    if let Some(valid_for) = consent {
        let today = chrono::DateTime::from_timestamp_millis(from)
            .unwrap_or_default()
            .with_timezone(&plan.tz)
            .date_naive();
        if crate::campaign::consent::lapsed(&candidate.vars, valid_for, today).is_some() {
            return None;
        }
    }
    let mut at = from;
    // Each deferral moves to a later reason (start, round, window): a few steps settle it.
    for _ in 0..16 {
        match plan.gate(candidate, at) {
            Gate::Launch => return Some(at),
            Gate::Defer { until, .. } if until > at => at = until,
            Gate::Defer { .. } | Gate::Close { .. } => return None,
        }
    }
    None
}

impl Ctx {
    fn campaign(&self, id: &str) -> Option<Arc<ActiveCampaign>> {
        self.campaigns.campaign(id)
    }

    /// Ends inbound call `id` (durations from its end request, if any) and makes its callback
    /// task when nobody took it (`Store::finish_inbound`).
    pub async fn end_inbound(
        &self,
        id: i64,
        duration_seconds: Option<i64>,
        talk_seconds: Option<i64>,
        now: i64,
    ) -> Result<Finished, StoreError> {
        let mut end = InboundEnd {
            id,
            duration_seconds,
            talk_seconds,
            task: None,
        };
        let call = self.store.inbound_call(id).await?;
        if let Some(call) = call.filter(|c| c.ended_at.is_none()) {
            let taken = call
                .outcome
                .as_deref()
                .is_some_and(|o| crate::store::TAKEN.contains(&o));
            if let (false, Some(campaign), Some(contact)) =
                (taken, &call.campaign_id, call.contact_id)
            {
                let active = self.campaign(campaign);
                let hold = (HOLD_MS as f64 / self.time_scale.max(1e-9)) as i64;
                end.task = Some(
                    self.plan_task(active.as_deref(), contact, call.received_at + hold, now)
                        .await?,
                );
            }
        }
        let done = self.store.finish_inbound(&end, now).await?;
        if let (true, Some(task)) = (done.created, done.task) {
            let at = end.task.as_ref().and_then(|t| t.call_back_at);
            tracing::info!(
                inbound = id,
                callback = task,
                call_back_at = ?at.filter(|_| done.rearmed),
                "nobody took the inbound call: a callback task"
            );
        }
        Ok(done)
    }

    /// The task of a call nobody took: responsible agent, team, and when pregonero calls back.
    async fn plan_task(
        &self,
        campaign: Option<&ActiveCampaign>,
        contact: i64,
        hold_until: i64,
        now: i64,
    ) -> Result<NewCallback, StoreError> {
        let agent = self.store.responsible_agent(contact).await?;
        let Some(c) = campaign else {
            return Ok(NewCallback {
                agent,
                ..NewCallback::default()
            });
        };
        let team = crate::desk::routing::desk_target(c).map(|(t, _)| t.to_string());
        let mut call_back_at = None;
        if c.inbound.call_back.unwrap_or(self.call_back) {
            if let Some((candidate, state)) = self.store.gate_candidate(contact).await? {
                let digests: Vec<String> = crate::exclusion::digests_of(&candidate.phone)
                    .iter()
                    .map(hex)
                    .collect();
                let listed = self.store.dnc_hashed_any(&digests).await?;
                let consent = c.consent_valid_for.filter(|_| c.require_consent);
                if REARMABLE.contains(&state.as_str()) && !listed {
                    call_back_at =
                        call_back_time(&c.plan, &candidate, consent, hold_until.max(now));
                }
            }
        }
        Ok(NewCallback {
            agent,
            team,
            call_back_at,
        })
    }

    /// Ends the inbound calls whose end request never came, every [`SWEEP_EVERY`] while this
    /// daemon holds the `callbacks` duty, until `stop`.
    pub async fn run(
        self,
        clock: crate::clock::SharedClock,
        duties: Arc<crate::cluster::Duties>,
        stale_after: Duration,
        stop: CancellationToken,
    ) {
        let stale = (stale_after.as_millis() as f64 / self.time_scale.max(1e-9)) as i64;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
            }
            if !duties.holds(crate::cluster::CALLBACKS).await {
                continue;
            }
            let now = clock.now_ms();
            let ids = match self.store.unended_inbound(now - stale, 100).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!("cannot read the inbound calls left open: {e}");
                    continue;
                }
            };
            for id in ids {
                match self.end_inbound(id, None, None, now).await {
                    Ok(_) => {
                        tracing::info!(inbound = id, "inbound call without an end request: ended")
                    }
                    Err(e) => tracing::warn!(inbound = id, "cannot end an inbound call: {e}"),
                }
            }
        }
    }
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `pregonero callbacks`: the output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ListFormat {
    #[default]
    Table,
    Json,
    Csv,
}

/// `pregonero callbacks`: the tasks of one campaign or all, in `[ui] language`, times in
/// `[calling] timezone`.
pub async fn command(
    config: &crate::config::Config,
    campaign: Option<&str>,
    open_only: bool,
    format: ListFormat,
) -> anyhow::Result<String> {
    let store = Store::connect(&config.database.url).await?;
    let tz = config
        .calling
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Europe::Madrid);
    let text = list(&store, campaign, open_only, format, config.ui.language, tz).await;
    store.close().await;
    Ok(text?)
}

/// The callback tasks as `pregonero callbacks` prints them.
pub async fn list(
    store: &Store,
    campaign: Option<&str>,
    open_only: bool,
    format: ListFormat,
    lang: crate::i18n::Lang,
    tz: chrono_tz::Tz,
) -> Result<String, StoreError> {
    let tasks = store.callbacks(campaign, open_only).await?;
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&tz)
    };
    let local = |ms: Option<i64>| ms.map(|v| lang.datetime(&time(v))).unwrap_or_default();
    let state = |t: &crate::store::CallbackTask| {
        if t.done_at.is_some() {
            "done"
        } else {
            "open"
        }
    };
    Ok(match format {
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = tasks
                .iter()
                .map(|t| {
                    let iso = |ms: Option<i64>| {
                        ms.map(|v| {
                            time(v)
                                .with_timezone(&Utc)
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        })
                    };
                    serde_json::json!({
                        "id": t.id, "campaign": t.campaign_id, "phone": t.phone, "name": t.name,
                        "state": state(t), "called_at": iso(Some(t.called_at)),
                        "last_call_at": iso(Some(t.last_call_at)), "calls": t.calls,
                        "agent": t.agent, "team": t.team, "call_back_at": iso(t.call_back_at),
                        "done_at": iso(t.done_at), "done_by": t.done_by, "inbound_call": t.inbound_id,
                    })
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into());
            s.push('\n');
            s
        }
        ListFormat::Csv | ListFormat::Table => {
            let keys = [
                "callbacks.id",
                "callbacks.campaign",
                "col.phone",
                "col.name",
                "callbacks.called_at",
                "callbacks.calls",
                "callbacks.agent",
                "callbacks.call_back_at",
                "callbacks.state",
            ];
            let header: Vec<String> = keys.iter().map(|k| lang.text(k).to_string()).collect();
            let rows: Vec<Vec<String>> = tasks
                .iter()
                .map(|t| {
                    let who = match (&t.agent, &t.team) {
                        (Some(a), _) => a.clone(),
                        (None, Some(team)) => format!("{} {team}", lang.text("callbacks.team")),
                        (None, None) => String::new(),
                    };
                    let st = match (&t.done_by, t.done_at) {
                        (Some(by), Some(at)) => format!(
                            "{} ({by}, {})",
                            lang.text("callbacks.done"),
                            local(Some(at))
                        ),
                        _ => lang.text("callbacks.open").to_string(),
                    };
                    vec![
                        t.id.to_string(),
                        t.campaign_id.clone(),
                        t.phone.clone(),
                        t.name.clone(),
                        local(Some(t.called_at)),
                        t.calls.to_string(),
                        who,
                        local(t.call_back_at),
                        st,
                    ]
                })
                .collect();
            if format == ListFormat::Csv {
                use crate::report::csv::{write, Cell, CsvStyle};
                let cells: Vec<Vec<Cell>> = rows
                    .into_iter()
                    .map(|r| r.into_iter().map(Cell::Text).collect())
                    .collect();
                write(CsvStyle::Excel, &header, &cells)
            } else if rows.is_empty() {
                format!("{}\n", lang.text("callbacks.none"))
            } else {
                table(&header, &rows)
            }
        }
    })
}

/// Columns padded to their widest cell (in characters), separated by two spaces.
fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 < cells.len() {
                s.push_str(c);
                s.push_str(&" ".repeat(w - c.chars().count() + 2));
            } else {
                s.push_str(c);
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header);
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::Campaign;
    use crate::config::CallingConfig;
    use chrono::TimeZone;

    fn plan(extra: &str) -> CampaignPlan {
        let c = Campaign::parse(
            "aviso",
            std::path::Path::new("campaigns/aviso"),
            std::path::Path::new("campaigns/aviso/campaign.toml"),
            &format!("kind = \"announcement\"\ncaller_id = \"+34910000000\"\nhours = [\"mon-fri 09:00-21:00\"]\n{extra}[announcement]\nmessage = \"Aviso.\"\n"),
        )
        .unwrap();
        let calling = CallingConfig {
            holiday_calendar: "none".into(),
            ..CallingConfig::default()
        };
        CampaignPlan::build(&c, &calling, Utc::now()).unwrap()
    }

    fn candidate(vars: &str) -> Candidate {
        Candidate {
            contact_id: 1,
            phone: "+34910000001".into(),
            timezone: None,
            appointment_at: None,
            dnc: None,
            vars: vars.into(),
        }
    }

    fn ms(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        chrono_tz::Europe::Madrid
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn a_call_back_waits_for_the_next_window_and_respects_the_list_and_consent() {
        let p = plan("");
        // Monday 22:00: the window opens on Tuesday at 09:00.
        let monday_night = ms(2026, 11, 23, 22, 0);
        assert_eq!(
            call_back_time(&p, &candidate("{}"), None, monday_night),
            Some(ms(2026, 11, 24, 9, 0))
        );
        // Inside the window: at once (the hold is the caller's `from`).
        let tuesday = ms(2026, 11, 24, 10, 30);
        assert_eq!(
            call_back_time(&p, &candidate("{}"), None, tuesday),
            Some(tuesday)
        );
        // Friday night: Monday morning.
        assert_eq!(
            call_back_time(&p, &candidate("{}"), None, ms(2026, 11, 27, 21, 30)),
            Some(ms(2026, 11, 30, 9, 0))
        );
        // On the do-not-call list for good: never.
        let mut listed = candidate("{}");
        listed.dnc = Some(crate::schedule::gate::DncEntry {
            phone: listed.phone.clone(),
            until_date: None,
            hours: None,
            source: "cli".into(),
        });
        assert_eq!(call_back_time(&p, &listed, None, monday_night), None);
        // Consent given long ago and lapsed: never.
        let valid = ValidFor::parse("12 months").unwrap();
        let old = candidate(r#"{"consentimiento":"01/01/2020"}"#);
        assert_eq!(call_back_time(&p, &old, Some(valid), monday_night), None);
        let fresh = candidate(r#"{"consentimiento":"01/11/2026"}"#);
        assert_eq!(
            call_back_time(&p, &fresh, Some(valid), monday_night),
            Some(ms(2026, 11, 24, 9, 0))
        );
        // The campaign has ended before any window: never.
        let ended = plan("end = \"2026-11-23\"\n");
        assert_eq!(
            call_back_time(&ended, &candidate("{}"), None, monday_night),
            None
        );
    }
}
