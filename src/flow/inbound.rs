//! The callback flow: a callee calling back the number that called them, on the same engine
//! as every outbound kind (`script`).
//!
//! - A known caller (matched to a contact of a campaign that called from the number dialled)
//!   first rings the campaign's agent target for `[inbound] agent_ring_seconds`; if nobody
//!   answers (or the campaign has no agent target), the menu: `[inbound] message` (who called
//!   and why), then `optout_key` (the number goes on the do-not-call list before the reply
//!   leaves), `agent_key` (the agent target again), and for a reminder contact the reminder's
//!   own confirm / cancel keys, which settle the appointment as on the outbound call.
//! - An unknown caller hears `[inbound] greeting` with the opt-out key.
//! - An anonymous caller (no number to put on the list) hears the greeting's goodbye only.
//!
//! The `userfield` carries the inbound call's id where outbound calls carry the attempt's.

use std::collections::BTreeMap;

use crate::campaign::{Campaign, FlowSettings, TransferTarget, Voice};
use crate::config::InboundConfig;

use super::kinds::reached;
use super::kinds::{choice, node, say, to, Renderer};
use super::script::{Action, Ctx, Goto, Menu, Miss, Script};
use super::{ControlRequest, RequestKind, Step};
use crate::schedule::{ContactState, Outcome};

/// Who is calling.
pub enum Caller<'a> {
    /// Matched to a contact of this campaign, with the contact's name and columns.
    Known {
        campaign: &'a Campaign,
        name: &'a str,
        vars: &'a BTreeMap<String, String>,
        /// Who the call is put through to: the campaign's target ([`agent_target`]), or for a
        /// `desk:TEAM` target the agent the webhook chose; `None`: nobody to ring, the menu
        /// at once (and no agent key).
        agent: Option<TransferTarget>,
    },
    /// A number no campaign called from this DID knows.
    Unknown,
    /// No number (`anonymous`).
    Anonymous,
}

/// The transfer target an inbound call of this campaign's contact is put through to.
pub fn agent_target(campaign: &Campaign) -> Option<TransferTarget> {
    match &campaign.flow {
        FlowSettings::Reminder(r) => r.agent.clone(),
        FlowSettings::Promotion(p) => Some(p.agent.clone()),
        FlowSettings::Sales(s) => Some(s.target.clone()),
        FlowSettings::Announcement(_) | FlowSettings::Survey(_) => None,
    }
}

fn script(config: &InboundConfig, caller: &Caller) -> Script {
    let optout = Goto::Node("optout".into());
    let mut nodes = Vec::new();
    match caller {
        Caller::Anonymous => {
            nodes.push(say("bye", config.goodbye_message.clone(), Goto::Hangup));
        }
        Caller::Unknown => {
            let mut c = choice(&config.optout_key, reached(ContactState::OptedOut), optout);
            c.optout = true;
            nodes.push(node(
                "menu",
                Action::Menu(menu(config, config.greeting.clone(), vec![c])),
            ));
            nodes.push(say("optout", config.optout_message.clone(), Goto::Hangup));
        }
        Caller::Known {
            campaign,
            name,
            vars,
            agent,
        } => {
            let mut vars = (*vars).clone();
            let title = if campaign.title.is_empty() {
                campaign.id.clone()
            } else {
                campaign.title.clone()
            };
            vars.insert("campaign_title".into(), title);
            vars.entry("nombre".into())
                .or_insert_with(|| name.to_string());
            let r = Renderer::new(&vars);
            let mut text = r.render(&config.message);
            let mut out = choice(&config.optout_key, reached(ContactState::OptedOut), optout);
            out.optout = true;
            let mut choices = vec![out];
            let mut tail = Vec::new();
            if let FlowSettings::Reminder(s) = &campaign.flow {
                text = format!("{text} {}", r.render(&s.message));
                choices.push(choice(
                    &s.confirm_key,
                    reached(ContactState::Confirmed),
                    to("ok"),
                ));
                choices.push(choice(
                    &s.cancel_key,
                    reached(ContactState::Cancelled),
                    to("cancel"),
                ));
                tail.push(say("ok", r.render(&s.confirmed_message), Goto::Hangup));
                tail.push(say("cancel", r.render(&s.cancelled_message), Goto::Hangup));
            }
            if let Some(target) = agent {
                nodes.push(node(
                    "ring",
                    Action::Transfer {
                        target: target.clone(),
                        ring_seconds: Some(config.agent_ring_seconds),
                        answered: Some(Outcome::ToAgent),
                        failed: None,
                        otherwise: Some(to("menu")),
                    },
                ));
                choices.push(choice(&config.agent_key, None, to("xfer")));
                tail.push(node(
                    "xfer",
                    Action::Transfer {
                        target: target.clone(),
                        ring_seconds: None,
                        answered: Some(Outcome::ToAgent),
                        failed: Some(Outcome::NoAgent),
                        otherwise: None,
                    },
                ));
            }
            nodes.push(node("menu", Action::Menu(menu(config, text, choices))));
            nodes.push(say("optout", config.optout_message.clone(), Goto::Hangup));
            nodes.extend(tail);
        }
    }
    Script {
        nodes,
        answered: None,
    }
}

fn menu(config: &InboundConfig, text: String, choices: Vec<super::script::Choice>) -> Menu {
    Menu {
        text,
        choices,
        max_prompts: config.max_prompts,
        invalid_text: None,
        on_timeout: Miss::Replay,
        on_invalid: Miss::Replay,
        played: None,
        exhausted: None,
    }
}

/// The next command of an inbound call (`inbound_id` travels in `userfield`).
pub fn inbound_step(
    config: &InboundConfig,
    caller: &Caller,
    inbound_id: i64,
    req: &ControlRequest,
) -> Step {
    inbound_step_adapted(config, caller, inbound_id, req, super::Adapter::default())
}

/// [`inbound_step`] under the configured provider assumptions (`adapter`).
pub fn inbound_step_adapted(
    config: &InboundConfig,
    caller: &Caller,
    inbound_id: i64,
    req: &ControlRequest,
    adapter: super::Adapter,
) -> Step {
    match req.kind() {
        RequestKind::End => Step::hangup("end"),
        RequestKind::Error => Step::hangup("error"),
        RequestKind::Start | RequestKind::Result => {
            let default_voice = Voice::default();
            let (voice, ring_seconds) = match caller {
                Caller::Known { campaign, .. } => (&campaign.voice, campaign.ring_seconds),
                _ => (&default_voice, 30),
            };
            let ctx = Ctx {
                voice,
                attempt_id: inbound_id,
                ring_seconds,
                google_key: None,
                adapter,
            };
            script(config, caller).step(&ctx, req)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder() -> Campaign {
        Campaign::parse(
            "citas",
            std::path::Path::new("campaigns/citas"),
            std::path::Path::new("campaigns/citas/campaign.toml"),
            "kind = \"reminder\"\ntitle = \"Clínica Sol\"\ncaller_id = \"+34910000000\"\n[reminder]\nmessage = \"Pulse 1 para confirmar su cita o 2 para anularla.\"\nagent_key = \"3\"\nagent = \"extension:200\"\n",
        )
        .unwrap()
    }

    fn req(fields: &[(&str, &str)]) -> ControlRequest {
        ControlRequest {
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_known_caller_rings_the_agent_then_hears_the_menu_and_can_confirm() {
        let config = InboundConfig::default();
        let c = reminder();
        let vars = BTreeMap::new();
        let caller = Caller::Known {
            campaign: &c,
            name: "Ana",
            vars: &vars,
            agent: agent_target(&c),
        };
        let s = inbound_step(&config, &caller, 7, &req(&[("statuscall", "ANSWER")]));
        assert_eq!(s.command.command, "dial");
        assert_eq!(s.command.options, "extension,200,15");
        assert_eq!(s.command.userfield, "7|ring|0");
        assert!(s.transfer.is_some());
        // Nobody answered: the menu, naming who called.
        let s = inbound_step(
            &config,
            &caller,
            7,
            &req(&[
                ("command", "dial"),
                ("userfield", "7|ring|0"),
                ("description", "NOANSWER"),
            ]),
        );
        assert_eq!(
            (s.command.command.as_str(), s.transfer_result),
            ("speak_getdtmf", Some(false))
        );
        assert!(
            s.command.options.contains("Hola Ana") && s.command.options.contains("Clínica Sol"),
            "{}",
            s.command.options
        );
        assert!(s.command.options.contains("Pulse 1 para confirmar"));
        let s = inbound_step(
            &config,
            &caller,
            7,
            &req(&[
                ("command", "speak_getdtmf"),
                ("userfield", "7|menu|0"),
                ("dtmf", "1"),
                ("status", "OK"),
            ]),
        );
        assert_eq!(
            s.outcome.map(crate::schedule::Outcome::as_str),
            Some("confirmed")
        );
        assert_eq!(s.command.userfield, "7|ok|0");
        let s = inbound_step(
            &config,
            &caller,
            7,
            &req(&[
                ("command", "speak_getdtmf"),
                ("userfield", "7|menu|0"),
                ("dtmf", "9"),
            ]),
        );
        assert!(s.optout);
        assert_eq!(
            s.outcome.map(crate::schedule::Outcome::as_str),
            Some("opted_out")
        );
        // The agent answered the first ring.
        let s = inbound_step(
            &config,
            &caller,
            7,
            &req(&[
                ("command", "dial"),
                ("userfield", "7|ring|0"),
                ("description", "ANSWER"),
            ]),
        );
        assert_eq!(
            (
                s.command.command.as_str(),
                s.outcome.map(crate::schedule::Outcome::as_str)
            ),
            ("hangup", Some("to_agent"))
        );
    }

    #[test]
    fn unknown_callers_get_the_greeting_with_the_opt_out_and_anonymous_ones_a_goodbye() {
        let config = InboundConfig::default();
        let s = inbound_step(&config, &Caller::Unknown, 8, &req(&[]));
        assert_eq!(s.command.command, "speak_getdtmf");
        assert!(s.command.options.contains("Gracias por llamar"));
        let s = inbound_step(
            &config,
            &Caller::Unknown,
            8,
            &req(&[
                ("command", "speak_getdtmf"),
                ("userfield", "8|menu|0"),
                ("dtmf", "9"),
            ]),
        );
        assert!(s.optout);
        let s = inbound_step(&config, &Caller::Anonymous, 9, &req(&[]));
        assert_eq!(s.command.command, "speak");
        assert!(!s.optout);
    }
}
