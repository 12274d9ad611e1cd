//! The simulator plays the desk (`[simulator.desk]`): its PBX extensions pick up after a
//! scripted delay and talk for a scripted time, or never pick up; scripted agents are logged
//! in (ready) while the daemon runs on the simulator, so that the demo shows the desk working.

use std::sync::Arc;
use std::time::Duration;

use super::hub::Desk;

pub use crate::config::{SimAgent, SimDeskSettings};

/// How a simulated extension answers a `dial extension,<ext>,<ring>`: (simulated seconds,
/// `ANSWER` or `NOANSWER`).
pub fn extension_answer(s: &SimDeskSettings, ext: &str, ring: f64) -> (f64, &'static str) {
    if s.no_answer.iter().any(|e| e == ext) || s.answer_after_seconds > ring {
        (ring, "NOANSWER")
    } else {
        (s.answer_after_seconds + s.talk_seconds, "ANSWER")
    }
}

/// Adds the scripted agents of the teams in `teams` and keeps them logged in and ready (a
/// "no answer" pause lifts at the next round) until `stop`.
pub async fn keep_agents_ready(
    desk: Arc<Desk>,
    settings: SimDeskSettings,
    teams: Vec<String>,
    stop: tokio_util::sync::CancellationToken,
) {
    let agents: Vec<SimAgent> = settings
        .agents
        .into_iter()
        .filter(|a| teams.contains(&a.team))
        .collect();
    if agents.is_empty() {
        return;
    }
    let now = desk.clock.now_ms();
    for a in &agents {
        if let Err(e) = desk
            .store
            .agent_add(&a.name, &a.extension, &a.team, now)
            .await
        {
            tracing::warn!(agent = %a.name, "cannot add the simulator's agent: {e}");
        }
    }
    tracing::info!(
        agents = agents.len(),
        "the simulator's desk agents are logged in"
    );
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = desk.clock.now_ms();
        for a in &agents {
            let _ = desk.store.agent_seen(&a.name, now).await;
            if let Ok(Some(current)) = desk.store.agent(&a.name).await {
                if matches!(current.state.as_str(), "logged_out" | "paused") {
                    let _ = desk
                        .store
                        .agent_set_state(&a.name, "ready", None, now)
                        .await;
                    desk.state_changed(&a.name).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_answer_as_scripted() {
        let s = SimDeskSettings {
            no_answer: vec!["203".into()],
            ..SimDeskSettings::default()
        };
        assert_eq!(extension_answer(&s, "201", 20.0), (48.0, "ANSWER"));
        assert_eq!(extension_answer(&s, "203", 20.0), (20.0, "NOANSWER"));
        // Rung for less than the pick-up delay: not answered.
        assert_eq!(extension_answer(&s, "201", 2.0), (2.0, "NOANSWER"));
    }
}
