//! Capture steps: the callee speaks, `google_voice2text` writes it down (apivoice.md 2c).
//!
//! A capture node runs in phases carried in the `n` of `userfield` (`n = try * 3 + phase`):
//! the prompt (`speak`), the listening (`google_voice2text`), and, with `confirm`, the read-back
//! (`speak_getdtmf`, 1 = correct, 2 = repeat). An empty or failed transcript plays the prompt
//! once more, then the call goes on without it; every transcript (or its absence) is handed to
//! the webhook in `Step::captures`, to be stored before the reply leaves.
//!
//! Guarantees: the key goes only into the `google_voice2text` options; what the callee said
//! reaches a command only through `spoken` (no `;`, no line breaks) and cut to
//! `READBACK_CHARS`; a capture node is left after at most two tries, whatever comes back.

use crate::campaign::capture::{says_any, CaptureAt, CaptureSettings};

use super::script::{Action, Choice, Ctx, Goto, Node, Script};
use super::{Command, ControlRequest, FlowState, Step, DTMF_WAIT_MS};
use crate::schedule::Outcome;

/// The most of a transcript read back to the callee, in characters.
pub const READBACK_CHARS: usize = 200;
/// The most of a transcript stored, in bytes (cut at a character boundary).
pub const MAX_TRANSCRIPT_BYTES: usize = 32 * 1024;

const PROMPT: u32 = 0;
const LISTEN: u32 = 1;
const CONFIRM: u32 = 2;

/// One capture step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Capture {
    /// Spoken before listening; `None` listens at once (the question was just asked).
    pub prompt: Option<String>,
    pub field: String,
    pub language: String,
    pub silence_seconds: u32,
    pub confirm: bool,
    /// Words heard and what they mean, checked in order; empty: any transcript goes `next`.
    pub words: Vec<(Vec<String>, Choice)>,
    /// Where the call goes after the capture (or without it).
    pub next: Goto,
    /// Outcome of going `next` without a transcript (or, with `words`, without a match).
    pub unmatched: Option<Outcome>,
}

/// What a capture heard, for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub field: String,
    /// `None`: nothing understood, or the command failed.
    pub text: Option<String>,
    /// The command failed (`statuscode` ≥ 400), or no key is configured.
    pub failed: bool,
}

fn split(n: u32) -> (u32, u32) {
    ((n / 3).min(1), n % 3)
}

fn cut(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Script {
    /// The command that starts try `attempt` of `cap`.
    pub(super) fn enter_capture(
        &self,
        ctx: &Ctx,
        node: &Node,
        cap: &Capture,
        attempt: u32,
    ) -> Step {
        let Some(key) = ctx.google_key else {
            // Without a key nothing can be heard: recorded, and the call goes on.
            let mut step = self.go(ctx, &cap.next, node, 0, None);
            step.outcome = step.outcome.or(cap.unmatched);
            step.captures.push(Captured {
                field: cap.field.clone(),
                text: None,
                failed: true,
            });
            return step;
        };
        match &cap.prompt {
            Some(p) => Step::reply(Command::speak(
                ctx.voice,
                p,
                None,
                FlowState::encode(ctx.attempt_id, &node.name, attempt * 3 + PROMPT),
            )),
            None => listen(ctx, node, cap, key, attempt),
        }
    }

    /// The reply to the result of a capture node's command.
    pub(super) fn capture_result(
        &self,
        ctx: &Ctx,
        node: &Node,
        cap: &Capture,
        n: u32,
        req: &ControlRequest,
    ) -> Step {
        let (attempt, phase) = split(n);
        let Some(key) = ctx.google_key else {
            return self.enter_capture(ctx, node, cap, attempt);
        };
        match phase {
            PROMPT => listen(ctx, node, cap, key, attempt),
            LISTEN => {
                let failed = req.statuscode() >= 400;
                let heard = req.transcript();
                let text = Some(cut(heard, MAX_TRANSCRIPT_BYTES))
                    .filter(|t| !failed && !t.trim().is_empty())
                    .map(str::to_string);
                let captured = Captured {
                    field: cap.field.clone(),
                    text: text.clone(),
                    failed,
                };
                let mut step = match &text {
                    None if attempt == 0 => self.enter_capture(ctx, node, cap, 1),
                    None => self.leave(ctx, node, cap),
                    Some(t) => match cap.words.iter().find(|(w, _)| says_any(t, w)) {
                        Some((_, choice)) => {
                            let mut step = self.go(ctx, &choice.goto, node, 0, None);
                            step.outcome = choice.outcome.or(step.outcome);
                            step.optout = choice.optout;
                            step
                        }
                        None if !cap.words.is_empty() => self.leave(ctx, node, cap),
                        None if cap.confirm => Step::reply(Command::speak(
                            ctx.voice,
                            &format!(
                                "Ha dicho: {}. Pulse 1 si es correcto o 2 para repetir.",
                                t.chars().take(READBACK_CHARS).collect::<String>()
                            ),
                            Some((DTMF_WAIT_MS, 1)),
                            FlowState::encode(ctx.attempt_id, &node.name, attempt * 3 + CONFIRM),
                        )),
                        None => self.go(ctx, &cap.next, node, 0, None),
                    },
                };
                step.captures.insert(0, captured);
                step
            }
            _ => match req.dtmf().as_deref() {
                Some("2") if attempt == 0 => self.enter_capture(ctx, node, cap, 1),
                _ => self.go(ctx, &cap.next, node, 0, None),
            },
        }
    }

    /// Goes on without a (matching) transcript.
    fn leave(&self, ctx: &Ctx, node: &Node, cap: &Capture) -> Step {
        let mut step = self.go(ctx, &cap.next, node, 0, None);
        step.outcome = cap.unmatched.or(step.outcome);
        step
    }
}

/// `google_voice2text`: `google_key;language;silence_seconds;beep`.
fn listen(ctx: &Ctx, node: &Node, cap: &Capture, key: &str, attempt: u32) -> Step {
    Step::reply(Command {
        command: GOOGLE_VOICE2TEXT.into(),
        options: format!("{key};{};{};1", cap.language, cap.silence_seconds),
        userfield: FlowState::encode(ctx.attempt_id, &node.name, attempt * 3 + LISTEN),
    })
}

/// The speech-to-text command.
pub const GOOGLE_VOICE2TEXT: &str = "google_voice2text";

/// Adds a campaign's `[[capture]]` steps to a kind's script, named `cap1`, `cap2`… in file
/// order: at the start, before the transfer (the step that announces it, else the transfer;
/// the default) or at the end (where a message would hang up; never after an opt-out).
/// A kind without a transfer captures at the end.
pub(crate) fn place(
    script: &mut Script,
    captures: &[CaptureSettings],
    render: &dyn Fn(&str) -> String,
) {
    let has = |s: &Script, name: &str| s.nodes.iter().any(|n| n.name == name);
    let target = ["agent", "xfer"]
        .into_iter()
        .find(|t| has(script, t))
        .map(str::to_string);
    let at = |c: &CaptureSettings| match (c.at.unwrap_or(CaptureAt::Transfer), &target) {
        (CaptureAt::Transfer, None) => CaptureAt::End,
        (at, _) => at,
    };
    let named: Vec<(String, &CaptureSettings)> = captures
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("cap{}", i + 1), c))
        .collect();
    let group = |which: CaptureAt| -> Vec<&(String, &CaptureSettings)> {
        named.iter().filter(|(_, c)| at(c) == which).collect()
    };
    let chain = |g: &[&(String, &CaptureSettings)], last: Goto| -> Vec<Node> {
        g.iter()
            .enumerate()
            .map(|(i, (name, c))| Node {
                name: name.clone(),
                action: Action::Capture(Capture {
                    prompt: Some(render(&c.prompt)),
                    field: c.field.clone(),
                    language: c.language.clone(),
                    silence_seconds: c.silence_seconds,
                    confirm: c.confirm,
                    words: vec![],
                    next: g
                        .get(i + 1)
                        .map(|(n, _)| Goto::Node(n.clone()))
                        .unwrap_or_else(|| last.clone()),
                    unmatched: None,
                }),
            })
            .collect()
    };
    let end = group(CaptureAt::End);
    if let Some((first, _)) = end.first() {
        for node in script.nodes.iter_mut().filter(|n| n.name != "optout") {
            let is_capture = matches!(node.action, Action::Capture(_));
            for g in gotos(&mut node.action) {
                if *g == Goto::Hangup && !is_capture {
                    *g = Goto::Node(first.clone());
                }
            }
        }
        script.nodes.extend(chain(&end, Goto::Hangup));
    }
    let before = group(CaptureAt::Transfer);
    if let (Some((first, _)), Some(target)) = (before.first(), &target) {
        for node in script.nodes.iter_mut() {
            for g in gotos(&mut node.action) {
                if *g == Goto::Node(target.clone()) {
                    *g = Goto::Node(first.clone());
                }
            }
        }
        let nodes = chain(&before, Goto::Node(target.clone()));
        // A call that starts with its transfer (sales without a message) starts with the
        // captures instead: no step leads to the transfer.
        if script.nodes.first().is_some_and(|n| &n.name == target) {
            script.nodes.splice(0..0, nodes);
        } else {
            script.nodes.extend(nodes);
        }
    }
    let start = group(CaptureAt::Start);
    if !start.is_empty() {
        let next = match script.nodes.first() {
            Some(n) => Goto::Node(n.name.clone()),
            None => Goto::Hangup,
        };
        let nodes = chain(&start, next);
        script.nodes.splice(0..0, nodes);
    }
}

/// Every place a step of this action may lead to.
fn gotos(action: &mut Action) -> Vec<&mut Goto> {
    match action {
        Action::Menu(m) => m.choices.iter_mut().map(|c| &mut c.goto).collect(),
        Action::Say { goto, .. } => vec![goto],
        Action::Transfer { .. } => vec![],
        Action::Capture(c) => {
            let mut v: Vec<&mut Goto> = c.words.iter_mut().map(|(_, ch)| &mut ch.goto).collect();
            v.push(&mut c.next);
            v
        }
    }
}
