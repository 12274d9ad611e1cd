//! The one call engine every kind runs on: a script of named steps (menus that collect a key,
//! messages, transfers), advanced by control requests.
//!
//! Guarantees: a request whose `userfield` does not name a step of the script (or names another
//! attempt) ends the call with `hangup`; a menu plays at most `max_prompts` times whatever the
//! callee does; a transfer's result decides its outcome only when it proves something (later
//! signals may still prove the bridge, see `super::transfer`); the `userfield` is `<attempt>|<step>|<n>`, at most ~40 chars.

use crate::campaign::{TransferTarget, Voice};
use crate::schedule::Outcome;

use super::capture::Capture;
use super::{Command, ControlRequest, FlowState, RequestKind, Step, DTMF_WAIT_MS};

/// Where a choice or a message leads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Goto {
    /// The step with this name.
    Node(String),
    /// Play the same menu again (counts as one more prompt).
    Again,
    Hangup,
}

/// One key of a menu and what it means.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    pub key: String,
    pub outcome: Option<Outcome>,
    /// Survey question id this key answers.
    pub answer: Option<String>,
    /// The callee asks never to be called again.
    pub optout: bool,
    pub goto: Goto,
}

/// What a timeout or a key outside the menu does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Miss {
    /// Play the menu again (after `invalid_text` for a wrong key), while prompts remain.
    Replay,
    /// Leave as if the prompts were spent.
    Leave,
    /// Go to this step (a promotion listens for the answer by voice).
    Go(String),
}

/// `speak_getdtmf` expecting one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Menu {
    pub text: String,
    pub choices: Vec<Choice>,
    pub max_prompts: u32,
    /// Spoken before the menu when it is replayed after a wrong key.
    pub invalid_text: Option<String>,
    pub on_timeout: Miss,
    pub on_invalid: Miss,
    /// Outcome of having heard the menu to its end (announcements: `delivered`).
    pub played: Option<Outcome>,
    /// Outcome when the prompts are spent; the call hangs up.
    pub exhausted: Option<Outcome>,
}

/// What one step does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Menu(Menu),
    /// `speak`, then `goto`; `played` is the outcome of hearing it to its end.
    Say {
        text: String,
        played: Option<Outcome>,
        goto: Goto,
    },
    /// `dial` / `queue`, then hang up with `answered` or `failed` as the outcome.
    /// `ring_seconds` overrides the campaign's ring time of a `dial` (sales: the abandon
    /// threshold, so that a callee left waiting longer ends the transfer as failed).
    Transfer {
        target: TransferTarget,
        ring_seconds: Option<u32>,
        answered: Option<Outcome>,
        failed: Option<Outcome>,
        /// Where a transfer nobody took goes on (inbound calls: the menu after the agent);
        /// `None` hangs up.
        otherwise: Option<Goto>,
    },
    /// The callee speaks; `google_voice2text` writes it down (see `capture`).
    Capture(Capture),
}

/// A named step; the name travels in `userfield`, so it is short and has no `|`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub name: String,
    pub action: Action,
}

/// A kind's call, as steps; the first one plays when the callee answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Script {
    pub nodes: Vec<Node>,
    /// Outcome as soon as the callee answers, until a later step replaces it (sales:
    /// `abandoned` until an agent takes the call).
    pub answered: Option<Outcome>,
}

/// What a script needs from the campaign to build commands.
pub(crate) struct Ctx<'a> {
    pub voice: &'a Voice,
    pub attempt_id: i64,
    /// Ring time of a `dial` transfer, seconds.
    pub ring_seconds: u32,
    /// The key `google_voice2text` needs (`[voice] google_key_file`); without one a capture
    /// step is recorded as failed and skipped.
    pub google_key: Option<&'a str>,
    /// The provider assumptions in force (`[provider]`).
    pub adapter: super::Adapter,
}

impl Ctx<'_> {
    pub(super) fn bye(&self, outcome: Option<Outcome>) -> Step {
        Step {
            outcome,
            ..Step::hangup(FlowState::encode(self.attempt_id, "bye", 0))
        }
    }
}

impl Script {
    fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The reply to a start or result request.
    pub fn step(&self, ctx: &Ctx, req: &ControlRequest) -> Step {
        if req.kind() == RequestKind::Start {
            let Some(first) = self.nodes.first() else {
                return ctx.bye(None);
            };
            let mut step = self.enter(ctx, first, 0, None);
            step.outcome = step.outcome.or(self.answered);
            return step;
        }
        let state = match FlowState::parse(req.get("userfield")) {
            Some(s) if s.attempt_id == ctx.attempt_id => s,
            _ => return ctx.bye(None),
        };
        let Some(node) = self.node(&state.step) else {
            return ctx.bye(None);
        };
        match &node.action {
            Action::Menu(menu) => self.menu_result(ctx, node, menu, state.n, req),
            Action::Say { played, goto, .. } => {
                // The result of `speak` arrives only once the message has played to its end.
                let heard = req
                    .heard(ctx.adapter.speak_results)
                    .then_some(*played)
                    .flatten();
                let mut step = self.go(ctx, goto, node, state.n, None);
                step.outcome = step.outcome.or(heard);
                step
            }
            Action::Capture(cap) => self.capture_result(ctx, node, cap, state.n, req),
            Action::Transfer {
                answered,
                failed,
                otherwise,
                ..
            } => {
                // `None`: the result proves nothing (a queue's bare `OK`); the call keeps the
                // outcome of a transfer nobody took until the report proves otherwise.
                let verdict = super::transfer::result_verdict(req);
                let connected = verdict == Some(true);
                if let (false, Some(goto)) = (connected, otherwise) {
                    let mut step = self.go(ctx, goto, node, state.n, None);
                    step.transfer_result = verdict;
                    step.outcome = step.outcome.or(*failed);
                    return step;
                }
                Step {
                    transfer_result: verdict,
                    ..ctx.bye(if connected { *answered } else { *failed })
                }
            }
        }
    }

    fn menu_result(
        &self,
        ctx: &Ctx,
        node: &Node,
        menu: &Menu,
        n: u32,
        req: &ControlRequest,
    ) -> Step {
        let heard = req
            .heard(ctx.adapter.speak_results)
            .then_some(menu.played)
            .flatten();
        let mut step = match req.dtmf() {
            Some(d) => match menu.choices.iter().find(|c| c.key == d) {
                Some(choice) => {
                    let mut step = self.go(ctx, &choice.goto, node, n, None);
                    step.outcome = choice.outcome.or(step.outcome);
                    if let Some(q) = &choice.answer {
                        step.answers.push((q.clone(), d));
                    }
                    step.optout = choice.optout;
                    step
                }
                None => match &menu.on_invalid {
                    Miss::Replay => {
                        self.go(ctx, &Goto::Again, node, n, menu.invalid_text.as_deref())
                    }
                    Miss::Leave => ctx.bye(menu.exhausted),
                    Miss::Go(to) => self.go(ctx, &Goto::Node(to.clone()), node, n, None),
                },
            },
            // `timeout`, or nothing captured.
            None => match &menu.on_timeout {
                Miss::Replay => self.go(ctx, &Goto::Again, node, n, None),
                Miss::Leave => ctx.bye(menu.exhausted),
                Miss::Go(to) => self.go(ctx, &Goto::Node(to.clone()), node, n, None),
            },
        };
        step.outcome = step.outcome.or(heard);
        step
    }

    /// Follows `goto` from `node`, whose prompt has played `n + 1` times.
    pub(super) fn go(
        &self,
        ctx: &Ctx,
        goto: &Goto,
        node: &Node,
        n: u32,
        prefix: Option<&str>,
    ) -> Step {
        match goto {
            Goto::Hangup => ctx.bye(None),
            Goto::Node(name) => match self.node(name) {
                Some(next) => self.enter(ctx, next, 0, None),
                None => ctx.bye(None),
            },
            Goto::Again => match &node.action {
                // `n` comes back from the provider: `u32::MAX` must not overflow.
                Action::Menu(m) if n.saturating_add(1) < m.max_prompts => {
                    self.enter(ctx, node, n + 1, prefix)
                }
                Action::Menu(m) => ctx.bye(m.exhausted),
                _ => ctx.bye(None),
            },
        }
    }

    /// The command that starts `node` (its `n`-th replay), with `prefix` spoken first.
    fn enter(&self, ctx: &Ctx, node: &Node, n: u32, prefix: Option<&str>) -> Step {
        let userfield = FlowState::encode(ctx.attempt_id, &node.name, n);
        match &node.action {
            Action::Menu(m) => {
                let text = match prefix {
                    Some(p) => format!("{p} {}", m.text),
                    None => m.text.clone(),
                };
                Step::reply(Command::speak(
                    ctx.voice,
                    &text,
                    Some((DTMF_WAIT_MS, 1)),
                    userfield,
                ))
            }
            Action::Say { text, .. } => {
                Step::reply(Command::speak(ctx.voice, text, None, userfield))
            }
            Action::Capture(cap) => self.enter_capture(ctx, node, cap, 0),
            Action::Transfer {
                target,
                ring_seconds,
                answered,
                ..
            } => {
                let (command, mut options) =
                    target.command(ring_seconds.unwrap_or(ctx.ring_seconds));
                if let TransferTarget::Queue(name) = target {
                    options = crate::provider::queue_options(name, ctx.adapter.queue_options);
                }
                Step {
                    transfer: Some(target.clone()),
                    transfer_outcome: *answered,
                    ..Step::reply(Command {
                        command: command.into(),
                        options,
                        userfield,
                    })
                }
            }
        }
    }
}
