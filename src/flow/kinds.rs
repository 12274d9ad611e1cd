//! The five campaign kinds as presets over the one engine (`script`): each turns its settings
//! and the contact's variables into a script of named steps.
//!
//! Guarantees: every text is rendered from the contact's columns (`{cita}` / `{appointment}`
//! spoken in words when the appointment is known); step names are short and fixed, so a call
//! survives a daemon restart as long as the campaign file is unchanged.

use std::collections::BTreeMap;

use crate::campaign::{
    render_template, AnnouncementSettings, Campaign, FlowSettings, PromotionSettings,
    ReminderSettings, SalesSettings, SurveySettings, APPOINTMENT_VARS,
};

use super::capture::Capture;
use super::script::{Action, Choice, Goto, Menu, Miss, Node, Script};
use super::speech::{contract_articles, speak_datetime};
use crate::schedule::{ContactState, Outcome};

/// The outcome of reaching contact state `s`.
pub(super) fn reached(s: ContactState) -> Option<Outcome> {
    Some(Outcome::State(s))
}

/// How many times an announcement may be replayed on request.
pub const MAX_REPLAYS: u32 = 2;

/// The variable that carries the contact's appointment in local time
/// (`YYYY-MM-DD HH:MM[:SS]`), set by whoever builds `vars`; see `appointment_from_vars`.
pub const APPOINTMENT_AT: &str = "appointment_at";

/// The contact's appointment in its local time: the `appointment_at` variable if set, else the
/// CSV's `appointment` or `cita` column, else `fecha` + `hora` (formats of product.md).
pub fn appointment_from_vars(vars: &BTreeMap<String, String>) -> Option<chrono::NaiveDateTime> {
    const FORMATS: [&str; 6] = [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %H:%M:%S",
    ];
    let parse = |t: &str| {
        FORMATS
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(t.trim(), f).ok())
    };
    [APPOINTMENT_AT, "appointment", "cita"]
        .iter()
        .find_map(|k| vars.get(*k).and_then(|v| parse(v)))
        .or_else(|| match (vars.get("fecha"), vars.get("hora")) {
            (Some(d), Some(h)) => parse(&format!("{} {}", d.trim(), h.trim())),
            _ => None,
        })
}

/// Renders templates for one contact.
pub(super) struct Renderer {
    vars: BTreeMap<String, String>,
    appointment: bool,
}

impl Renderer {
    pub(super) fn new(vars: &BTreeMap<String, String>) -> Renderer {
        let mut vars = vars.clone();
        let appointment = appointment_from_vars(&vars).map(speak_datetime);
        if let Some(spoken) = &appointment {
            for k in APPOINTMENT_VARS {
                vars.insert(k.to_string(), spoken.clone());
            }
        }
        Renderer {
            vars,
            appointment: appointment.is_some(),
        }
    }

    pub(super) fn render(&self, template: &str) -> String {
        let text = render_template(template, &self.vars);
        if self.appointment {
            contract_articles(&text)
        } else {
            text
        }
    }
}

/// The script of `campaign` for a contact with these variables.
pub(crate) fn script(campaign: &Campaign, vars: &BTreeMap<String, String>) -> Script {
    let r = Renderer::new(vars);
    let mut script = match &campaign.flow {
        FlowSettings::Reminder(s) => reminder(s, &r),
        FlowSettings::Announcement(s) => announcement(s, &r),
        FlowSettings::Promotion(s) => promotion(s, &r, speech_language(campaign)),
        FlowSettings::Survey(s) => survey(s, &r),
        FlowSettings::Sales(s) => sales(s, &r),
    };
    super::capture::place(&mut script, &campaign.captures, &|t| r.render(t));
    script
}

/// The language speech is heard in: the voice's when google speaks, else Spanish.
fn speech_language(campaign: &Campaign) -> &str {
    match campaign.voice.provider.as_str() {
        "google" => &campaign.voice.language,
        _ => "es",
    }
}

pub(super) fn node(name: &str, action: Action) -> Node {
    Node {
        name: name.to_string(),
        action,
    }
}

pub(super) fn say(name: &str, text: String, goto: Goto) -> Node {
    node(
        name,
        Action::Say {
            text,
            played: None,
            goto,
        },
    )
}

pub(super) fn choice(key: &str, outcome: Option<Outcome>, goto: Goto) -> Choice {
    Choice {
        key: key.to_string(),
        outcome,
        answer: None,
        optout: false,
        goto,
    }
}

pub(super) fn to(name: &str) -> Goto {
    Goto::Node(name.to_string())
}

/// menu → confirm: `ok` / cancel: `cancel` / agent key: `agent` → `xfer`.
/// Timeouts and wrong keys replay the menu; spent prompts are `no_response`.
fn reminder(s: &ReminderSettings, r: &Renderer) -> Script {
    let mut choices = vec![
        choice(&s.confirm_key, reached(ContactState::Confirmed), to("ok")),
        choice(
            &s.cancel_key,
            reached(ContactState::Cancelled),
            to("cancel"),
        ),
    ];
    let mut nodes = vec![];
    if let (Some(k), Some(agent)) = (&s.agent_key, &s.agent) {
        // No outcome for the key itself: only a connected transfer is `transferred`.
        choices.push(choice(k, None, to("agent")));
        nodes.push(say("agent", r.render(&s.transfer_message), to("xfer")));
        nodes.push(node(
            "xfer",
            Action::Transfer {
                target: agent.clone(),
                ring_seconds: None,
                answered: reached(ContactState::Transferred),
                failed: reached(ContactState::NoResponse),
                otherwise: None,
            },
        ));
    }
    let menu = Menu {
        text: r.render(&s.message),
        choices,
        max_prompts: s.max_prompts,
        invalid_text: Some(r.render(&s.invalid_message)),
        on_timeout: Miss::Replay,
        on_invalid: Miss::Replay,
        played: None,
        exhausted: reached(ContactState::NoResponse),
    };
    nodes.insert(0, node("menu", Action::Menu(menu)));
    nodes.push(say("ok", r.render(&s.confirmed_message), Goto::Hangup));
    nodes.push(say("cancel", r.render(&s.cancelled_message), Goto::Hangup));
    Script {
        nodes,
        answered: None,
    }
}

/// msg (delivered once heard to its end), replayed on `repeat_key` up to `MAX_REPLAYS` times.
fn announcement(s: &AnnouncementSettings, r: &Renderer) -> Script {
    let text = r.render(&s.message);
    let action = match &s.repeat_key {
        None => Action::Say {
            text,
            played: reached(ContactState::Delivered),
            goto: Goto::Hangup,
        },
        Some(k) => Action::Menu(Menu {
            text,
            choices: vec![choice(k, None, Goto::Again)],
            max_prompts: 1 + MAX_REPLAYS,
            invalid_text: None,
            on_timeout: Miss::Leave,
            on_invalid: Miss::Leave,
            played: reached(ContactState::Delivered),
            exhausted: None,
        }),
    };
    Script {
        nodes: vec![node("msg", action)],
        answered: None,
    }
}

/// menu → interest key: `interested`, `agent` → `xfer` (`transferred` once connected) /
/// opt-out key: `opted_out` + `optout`, `optout` message. Spent prompts: `not_interested`.
///
/// With `interest_words` or `optout_words`, a menu that hears no key listens instead (`listen`,
/// stored as `respuesta`): opt-out words first, then interest words; anything else, or
/// nothing twice, is `not_interested`.
fn promotion(s: &PromotionSettings, r: &Renderer, language: &str) -> Script {
    let by_voice = !(s.interest_words.is_empty() && s.optout_words.is_empty());
    let interest = choice(
        &s.interest_key,
        reached(ContactState::Interested),
        to("agent"),
    );
    let optout = Choice {
        optout: true,
        ..choice(&s.optout_key, reached(ContactState::OptedOut), to("optout"))
    };
    let menu = Menu {
        text: r.render(&s.message),
        choices: vec![interest.clone(), optout.clone()],
        max_prompts: s.max_prompts,
        invalid_text: Some(r.render(&s.invalid_message)),
        on_timeout: if by_voice {
            Miss::Go("listen".into())
        } else {
            Miss::Replay
        },
        on_invalid: Miss::Replay,
        played: None,
        exhausted: reached(ContactState::NotInterested),
    };
    let mut nodes = vec![
        node("menu", Action::Menu(menu)),
        say("agent", r.render(&s.transfer_message), to("xfer")),
        node(
            "xfer",
            Action::Transfer {
                target: s.agent.clone(),
                ring_seconds: None,
                answered: reached(ContactState::Transferred),
                failed: reached(ContactState::Interested),
                otherwise: None,
            },
        ),
        say("optout", r.render(&s.optout_message), Goto::Hangup),
    ];
    if by_voice {
        nodes.push(node(
            "listen",
            Action::Capture(Capture {
                prompt: None,
                field: VOICE_ANSWER_FIELD.into(),
                language: language.to_string(),
                silence_seconds: 2,
                confirm: false,
                words: vec![
                    (s.optout_words.clone(), optout),
                    (s.interest_words.clone(), interest),
                ],
                next: Goto::Hangup,
                unmatched: reached(ContactState::NotInterested),
            }),
        ));
    }
    Script {
        nodes,
        answered: None,
    }
}

/// The field a promotion's spoken answer is stored under.
pub const VOICE_ANSWER_FIELD: &str = "respuesta";

/// intro → q1 … qN (each valid key reported as an answer; `partial`, and `completed` with the
/// last one) → outro. A question whose prompts are spent ends the call.
fn survey(s: &SurveySettings, r: &Renderer) -> Script {
    let mut nodes = vec![];
    if let Some(intro) = &s.intro {
        nodes.push(say("intro", r.render(intro), to("q1")));
    }
    let last = s.questions.len();
    for (i, q) in s.questions.iter().enumerate() {
        let n = i + 1;
        let (outcome, next) = if n == last {
            (ContactState::Completed, to("outro"))
        } else {
            (ContactState::Partial, Goto::Node(format!("q{}", n + 1)))
        };
        let choices = q
            .keys
            .iter()
            .map(|k| Choice {
                answer: Some(q.id.clone()),
                ..choice(k, reached(outcome), next.clone())
            })
            .collect();
        let menu = Menu {
            text: r.render(&q.text),
            choices,
            max_prompts: q.max_prompts,
            invalid_text: Some(r.render(&s.invalid_message)),
            on_timeout: Miss::Replay,
            on_invalid: Miss::Replay,
            played: None,
            exhausted: None,
        };
        nodes.push(node(&format!("q{n}"), Action::Menu(menu)));
    }
    nodes.push(say("outro", r.render(&s.outro), Goto::Hangup));
    Script {
        nodes,
        answered: None,
    }
}

/// msg (optional) → xfer: `connected` when an agent took the call. Until then the outcome is
/// `abandoned`, so a callee who hangs up while waiting counts as one; a `dial` to an agent rings
/// for `agent_ring_seconds` (a `queue` waits as long as the PBX queue is set to).
fn sales(s: &SalesSettings, r: &Renderer) -> Script {
    let mut nodes = vec![];
    if let Some(m) = &s.message {
        nodes.push(say("msg", r.render(m), to("xfer")));
    }
    nodes.push(node(
        "xfer",
        Action::Transfer {
            target: s.target.clone(),
            // The agent's phone rings long enough to be picked up; the legal threshold
            // (`abandon_after_seconds`) is no ring time.
            ring_seconds: Some(s.agent_ring_seconds),
            answered: reached(ContactState::Connected),
            failed: reached(ContactState::Abandoned),
            otherwise: None,
        },
    ));
    Script {
        nodes,
        answered: reached(ContactState::Abandoned),
    }
}
