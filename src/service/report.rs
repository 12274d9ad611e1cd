//! A call report's lines: stored, and the attempts no control request closed closed by them.

use super::CallService;
use crate::flow;
use crate::schedule::AttemptResult;
use crate::store::{AttemptClose, CloseJob, LineAttempt, ReportLine, StoreError};

/// Upserts the lines; closes the attempts no control request closed. Returns how many closed.
/// Both steps are idempotent, so a batch cut by a crash is applied whole when it comes again.
pub(crate) async fn apply_lines(
    st: &CallService,
    batch_id: i64,
    lines: &[ReportLine],
    now: i64,
) -> Result<usize, StoreError> {
    let applied = st.store.apply_report_lines(batch_id, lines, now).await?;
    // Lines no outbound attempt owns may be inbound calls' (the DID leg): their billed time.
    // Set again when a batch comes again (the update is idempotent), so a batch cut by a crash
    // between the two writes still sets it.
    let inbound: Vec<(&str, i64)> = lines
        .iter()
        .zip(&applied)
        .filter(|(l, a)| a.attempt.is_none() && !l.provider_call_id.is_empty())
        .map(|(l, _)| (l.provider_call_id.as_str(), l.duration_seconds))
        .collect();
    st.store.inbound_billed(&inbound).await?;
    let ingested = applied.iter().filter(|a| a.new).count() as u64;
    // A transfer's leg to an agent, answered and billed, proves the bridge, before or after
    // the attempt closed; it never closes the attempt (its status is the agent's).
    for (line, a) in lines.iter().zip(&applied) {
        if let (true, Some(LineAttempt { attempt_id, .. })) = (a.new, &a.attempt) {
            if flow::transfer::leg_verdict(a.callee_leg, &line.status, line.duration_seconds)
                && st
                    .store
                    .transfer_bridged(*attempt_id, "report", now)
                    .await?
                    .is_some()
            {
                tracing::info!(
                    attempt = attempt_id,
                    "the call report shows an agent took the transfer"
                );
            }
        }
    }
    let mut jobs = Vec::new();
    let mut job_campaigns = Vec::new();
    {
        let campaigns = st.campaigns.read().unwrap_or_else(|e| e.into_inner());
        for (line, a) in lines.iter().zip(applied) {
            let Some(LineAttempt {
                attempt_id,
                campaign_id,
                open: true,
            }) = a.attempt
            else {
                continue;
            };
            if !a.callee_leg {
                continue;
            }
            let Some(campaign) = campaigns.get(&campaign_id) else {
                continue;
            };
            let answered = line.status == "answer" || a.answered;
            let Some(result) = AttemptResult::from_provider(&line.status, answered) else {
                continue;
            };
            job_campaigns.push(campaign_id.clone());
            jobs.push(CloseJob {
                attempt_id,
                close: AttemptClose {
                    result,
                    duration_seconds: Some(line.duration_seconds),
                    talk_seconds: Some(if answered { line.duration_seconds } else { 0 }),
                    ended_at: now,
                },
                policy: campaign.policy(st.time_scale),
            });
        }
    }
    if jobs.is_empty() {
        st.metrics.report_lines(ingested, 0);
        return Ok(0);
    }
    for job in &jobs {
        st.in_flight.settling(job.attempt_id);
    }
    let results = st.store.close_attempts(&jobs).await?;
    for job in &jobs {
        st.in_flight.release(job.attempt_id);
    }
    let mut closed = 0;
    for (next, campaign) in results.iter().zip(&job_campaigns) {
        if let Some(next) = next {
            closed += 1;
            st.metrics.outcome(campaign, next.state.as_str());
        }
    }
    st.metrics.report_lines(ingested, closed as u64);
    Ok(closed)
}
