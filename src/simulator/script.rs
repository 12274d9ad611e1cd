//! Per-destination call outcomes: scripted (text grammar, TOML) or seeded pseudo-random.

use std::collections::HashMap;
use std::str::FromStr;

use crate::i18n::Msg;

const ANSWER_AFTER_SECS: f64 = 4.0;

/// A DTMF answer of the callee to one `*_getdtmf` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// Keys pressed (truncated to the command's `max_digits`).
    Digits(String),
    /// Nothing pressed: the result carries `dtmf=timeout` after `wait_ms`.
    Timeout,
}

/// What the callee says at one `google_voice2text` (apivoice.md 2c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// This transcript comes back in `description`.
    Text(String),
    /// Nothing understood: an empty `description`.
    Nothing,
    /// The transcription fails: `statuscode` 400.
    Fail,
}

/// The outcome of one call attempt.
///
/// Text grammar ([`FromStr`], case-insensitive outcome word, options separated by spaces):
///
/// ```text
/// busy | noanswer | unreachable | congestion
/// answer [ring=SECS] [keys=K,K,...] [said=T|T|...] [hangup=N] [refuse=N] [transfer=ok|fail] [bridge=SECS] [bridged=SECS]
/// ```
///
/// - `ring=SECS`: simulated seconds of ringing before the answer (default 4);
/// - `keys=…`: what the callee does at the 1st, 2nd, … `*_getdtmf`: digits (`0-9*#`) or `t`
///   (`timeout`); getdtmf commands beyond the list time out, so plain `answer` never presses a key;
/// - `said=…`: what the callee says at the 1st, 2nd, … `google_voice2text`, separated by `|`:
///   the transcript with `_` for each space, `-` for nothing understood (empty), `!` for a
///   failed transcription (`statuscode` 400); commands beyond the list hear nothing;
/// - `hangup=N`: the callee hangs up during the Nth command (1 = the reply to the start request);
///   no result request is sent for it, only the final `CANCEL`; during a `dial` or `queue`,
///   one second in, while it rings;
/// - `refuse=N`: the provider refuses the Nth command as if it were not valid (`statuscode`
///   401, `Command not found`), as netelip does with a reply it cannot read;
/// - `transfer=fail`: `dial`/`queue` report `NOANSWER` instead of `ANSWER`;
/// - `bridge=SECS`: with an agent pool (see [`Agents`]), the agent takes this long to pick up
///   this call instead of the pool's `bridge`;
/// - `bridged=SECS`: the callee hangs up first, this long after an agent took the transfer:
///   no transfer result, only the end request (without it the agent hangs up first and the
///   `dial`/`queue` result comes).
///
/// Aliases: `no-answer`, `chanunavail`, `timeout` for `t`.
#[derive(Debug, Clone, PartialEq)]
pub enum CallScript {
    /// Answered after `ring_secs`; then follows the dialer's commands.
    Answer {
        /// Simulated seconds before the answer.
        ring_secs: f64,
        /// Answers to successive getdtmf commands.
        keys: Vec<Key>,
        /// What is said at successive `google_voice2text` commands.
        said: Vec<Said>,
        /// 1-based command during which the callee hangs up.
        hangup_during: Option<usize>,
        /// 1-based command the provider answers with `Command not found`.
        refuse: Option<usize>,
        /// Whether `dial`/`queue` are answered.
        transfer_ok: bool,
        /// Simulated seconds an agent of the pool takes to pick up this call.
        bridge_secs: Option<f64>,
        /// The callee hangs up this long after an agent took the transfer.
        bridged_secs: Option<f64>,
    },
    /// `BUSY` after ~3 s.
    Busy,
    /// `NOANSWER` after the launch's `duration`.
    NoAnswer,
    /// `CHANUNAVAIL` after ~1 s.
    Unreachable,
    /// `CONGESTION` after ~1 s.
    Congestion,
}

impl FromStr for CallScript {
    type Err = Msg;

    fn from_str(s: &str) -> Result<Self, Msg> {
        let mut words = s.split_whitespace();
        let kind = words
            .next()
            .ok_or_else(|| Msg::new("script.empty"))?
            .to_ascii_lowercase();
        let simple = match kind.as_str() {
            "answer" => None,
            "busy" => Some(CallScript::Busy),
            "noanswer" | "no-answer" => Some(CallScript::NoAnswer),
            "unreachable" | "chanunavail" => Some(CallScript::Unreachable),
            "congestion" => Some(CallScript::Congestion),
            other => return Err(Msg::new("script.unknown_outcome").arg("outcome", other)),
        };
        if let Some(outcome) = simple {
            return match words.next() {
                Some(w) => Err(Msg::new("script.no_options")
                    .arg("kind", &kind)
                    .arg("word", w)),
                None => Ok(outcome),
            };
        }
        let (mut ring_secs, mut keys, mut hangup_during, mut refuse, mut transfer_ok) =
            (ANSWER_AFTER_SECS, Vec::new(), None, None, true);
        let (mut bridge_secs, mut bridged_secs) = (None, None);
        let mut said = Vec::new();
        for word in words {
            let (k, v) = word
                .split_once('=')
                .ok_or_else(|| Msg::new("script.expected_option").arg("word", word))?;
            match k.to_ascii_lowercase().as_str() {
                "keys" => keys = v.split(',').map(parse_key).collect::<Result<_, _>>()?,
                "said" => said = v.split('|').map(parse_said).collect(),
                "hangup" => {
                    let n = v.parse::<usize>().ok().filter(|n| *n > 0);
                    hangup_during = Some(n.ok_or_else(|| bad(k, v))?);
                }
                "refuse" => {
                    let n = v.parse::<usize>().ok().filter(|n| *n > 0);
                    refuse = Some(n.ok_or_else(|| bad(k, v))?);
                }
                "transfer" => {
                    transfer_ok = match v.to_ascii_lowercase().as_str() {
                        "ok" => true,
                        "fail" => false,
                        _ => return Err(Msg::new("script.bad_transfer").arg("value", v)),
                    }
                }
                "bridge" => {
                    let b = v.parse::<f64>().ok().filter(|b| b.is_finite() && *b >= 0.0);
                    bridge_secs = Some(b.ok_or_else(|| bad(k, v))?);
                }
                "bridged" => {
                    let b = v.parse::<f64>().ok().filter(|b| b.is_finite() && *b >= 0.0);
                    bridged_secs = Some(b.ok_or_else(|| bad(k, v))?);
                }
                "ring" => {
                    let r = v.parse::<f64>().ok().filter(|r| r.is_finite() && *r >= 0.0);
                    ring_secs = r.ok_or_else(|| bad(k, v))?;
                }
                _ => return Err(Msg::new("script.unknown_option").arg("option", k)),
            }
        }
        Ok(CallScript::Answer {
            ring_secs,
            keys,
            said,
            hangup_during,
            refuse,
            transfer_ok,
            bridge_secs,
            bridged_secs,
        })
    }
}

/// A number option that is not a number of 0 or more.
fn bad(option: &str, value: &str) -> Msg {
    Msg::new("script.bad_value")
        .arg("option", option)
        .arg("value", value)
}

fn parse_said(t: &str) -> Said {
    match t {
        "" | "-" => Said::Nothing,
        "!" => Said::Fail,
        t => Said::Text(t.replace('_', " ")),
    }
}

/// Keys as a script writes them (`1,t,9`): what a caller does at each successive getdtmf.
/// The keys of `simulate --keys` (`1,2,t`); the error names the first bad one, in a sentence
/// of the catalogue.
pub fn parse_keys(text: &str) -> Result<Vec<Key>, Msg> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|k| parse_key(k).map_err(|_| Msg::new("simulate.bad_key").arg("key", k.trim())))
        .collect()
}

fn parse_key(k: &str) -> Result<Key, Msg> {
    match k.trim() {
        "t" | "T" | "timeout" => Ok(Key::Timeout),
        d if !d.is_empty()
            && d.chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#') =>
        {
            Ok(Key::Digits(d.to_string()))
        }
        other => Err(Msg::new("script.bad_key").arg("key", other)),
    }
}

/// A pool of agents behind every `dial`/`queue` transfer (sales): a transfer waits for a free
/// agent, who picks up after `bridge` seconds and talks for `talk` seconds; a transfer that no
/// agent picks up within its window (the `dial` ring time, or `wait` for a `queue`) ends
/// `NOANSWER`. In a script file: `[agents]` with `count`, `bridge`, `talk`, `wait`.
#[derive(Debug, Clone, PartialEq)]
pub struct Agents {
    pub count: usize,
    pub bridge_secs: f64,
    pub talk_secs: f64,
    pub wait_secs: f64,
}

impl Default for Agents {
    fn default() -> Self {
        Agents {
            count: 1,
            bridge_secs: 1.0,
            talk_secs: 30.0,
            wait_secs: 30.0,
        }
    }
}

/// Scripted outcomes: destination → one [`CallScript`] per successive attempt (the last repeats).
/// Destinations are matched on their international digits, so `+34600000001`, `0034600000001`
/// and `34600000001` are the same key. Optionally an agent pool ([`Agents`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    calls: HashMap<String, Vec<CallScript>>,
    /// Agents behind transfers; without them every transfer is answered at once.
    pub agents: Option<Agents>,
}

fn parse_agents(t: &toml::Table) -> Result<Agents, Msg> {
    let mut a = Agents::default();
    for (k, v) in t {
        let num = v
            .as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| Msg::new("script.agents_number").arg("key", k))?;
        match k.as_str() {
            "count" if num >= 1.0 => a.count = num as usize,
            "count" => return Err(Msg::new("script.agents_count")),
            "bridge" => a.bridge_secs = num,
            "talk" => a.talk_secs = num,
            "wait" => a.wait_secs = num,
            other => return Err(Msg::new("script.agents_key").arg("key", other)),
        }
    }
    Ok(a)
}

impl Script {
    /// Sets the attempts of one destination (an empty list removes it).
    pub fn insert(&mut self, dst: &str, attempts: Vec<CallScript>) {
        if attempts.is_empty() {
            self.calls.remove(&dst_key(dst));
        } else {
            self.calls.insert(dst_key(dst), attempts);
        }
    }

    /// Parses a TOML table `"+34600000001" = ["busy", "answer keys=1"]` (a single string is
    /// accepted for one outcome).
    pub fn parse_toml(text: &str) -> Result<Script, Msg> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            let message = e.message().lines().map(str::trim).collect::<Vec<_>>();
            Msg::new("script.syntax")
                .arg("line", line)
                .arg("error", message.join(" "))
        })?;
        let mut script = Script::default();
        for (dst, value) in table {
            if let (true, toml::Value::Table(t)) = (dst == "agents", &value) {
                script.agents = Some(parse_agents(t)?);
                continue;
            }
            let items = match value {
                toml::Value::String(s) => vec![toml::Value::String(s)],
                toml::Value::Array(items) => items,
                _ => return Err(Msg::new("script.expected_strings").arg("dst", &dst)),
            };
            let attempts = items
                .iter()
                .map(|item| match item.as_str() {
                    Some(s) => s
                        .parse::<CallScript>()
                        .map_err(|e| Msg::new("script.of").arg("dst", &dst).msg("error", e)),
                    None => Err(Msg::new("script.expected_strings").arg("dst", &dst)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            script.insert(&dst, attempts);
        }
        Ok(script)
    }

    /// The script of the `n`th (0-based) attempt to `dst`, if scripted.
    pub fn for_attempt(&self, dst: &str, n: usize) -> Option<&CallScript> {
        let attempts = self.calls.get(&dst_key(dst))?;
        attempts.get(n.min(attempts.len().saturating_sub(1)))
    }

    /// Whether no destination is scripted.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// International digits of a number: `+34…`, `0034…` and `34…` all give `34…`.
pub(super) fn dst_key(s: &str) -> String {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if s.trim_start().starts_with('+') {
        return digits;
    }
    digits
        .strip_prefix("00")
        .map(str::to_string)
        .unwrap_or(digits)
}

/// Deterministic outcome of an unscripted attempt: ~70% answer (presses 1 at the first
/// getdtmf), 10% busy, 12% no answer, 5% unreachable, 3% congestion.
pub fn random_outcome(seed: u64, dst: &str, n: usize) -> CallScript {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for b in dst_key(dst).bytes().chain((n as u64).to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    match (h ^ (h >> 31)) % 100 {
        0..70 => CallScript::Answer {
            ring_secs: ANSWER_AFTER_SECS,
            keys: vec![Key::Digits("1".into())],
            said: vec![],
            hangup_during: None,
            refuse: None,
            transfer_ok: true,
            bridge_secs: None,
            bridged_secs: None,
        },
        70..80 => CallScript::Busy,
        80..92 => CallScript::NoAnswer,
        92..97 => CallScript::Unreachable,
        _ => CallScript::Congestion,
    }
}
