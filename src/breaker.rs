//! The circuit breaker in front of the provider's launch endpoint.
//!
//! A transient failure (5xx, `412`/`500`/`503`, a connection error, a launch with no reply)
//! makes the dialer wait with exponential backoff. After `threshold` failures in a row the
//! circuit **opens**: no launch at all for a cool-down that doubles with every trip in a row
//! (up to a maximum). Then it is **half-open**: exactly one launch goes out as a probe, and
//! nothing else until its result; success closes the circuit, failure opens it again.
//!
//! Without the half-open probe, a provider that stopped answering would receive a launch per
//! pacing slot after each wait, and every one of them would end "unknown", holding its contact
//! for the grace period. With it, a dead provider costs one launch per cool-down.
//!
//! Pure state with the time passed in; waits already divided by the simulator's speed.

use std::time::Duration;

use tokio::time::Instant;

/// Timings of the breaker (from `[provider]`: `retry_backoff_seconds`, `circuit_failures`,
/// `circuit_open_seconds`; see [`BreakerSettings::from_config`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSettings {
    /// Failures in a row that open the circuit.
    pub threshold: u32,
    /// First backoff after a failure (doubling: 1 s, 2 s, 4 s …), capped at `backoff_max`.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// First cool-down of an open circuit (doubling per trip in a row), capped at `cool_max`.
    pub cool: Duration,
    pub cool_max: Duration,
}

impl BreakerSettings {
    /// From `[provider]`, waits divided by `time_scale`.
    pub fn from_config(c: &crate::config::Config, time_scale: f64) -> BreakerSettings {
        let k = time_scale.max(1.0);
        let p = &c.provider;
        let d = |s: f64| Duration::from_secs_f64(s / k);
        BreakerSettings {
            threshold: p.circuit_failures,
            backoff: d(p.retry_backoff_seconds),
            backoff_max: d(p.retry_backoff_seconds * 60.0),
            cool: d(p.circuit_open_seconds),
            cool_max: d(p.circuit_open_seconds * 10.0),
        }
    }
}

/// The circuit's state, as `/metrics` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    Closed,
    Open,
    HalfOpen,
}

impl Circuit {
    pub fn as_str(self) -> &'static str {
        match self {
            Circuit::Closed => "closed",
            Circuit::Open => "open",
            Circuit::HalfOpen => "half_open",
        }
    }
}

/// May a launch go out now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Yes.
    Go,
    /// Yes, as the half-open probe: report its result with `success` / `failure`.
    Probe,
    /// Not before this instant.
    WaitUntil(Instant),
    /// Not until the probe in flight has its result.
    WaitForProbe,
}

/// What a failure did, for the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Still closed: the next launch waits this long.
    Backoff(Duration),
    /// The circuit opened (or re-opened after a failed probe) for this long.
    Opened(Duration),
    /// A late result of a launch sent before the circuit opened: nothing changes.
    Ignored,
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
        until: Option<Instant>,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        probe_out: bool,
    },
}

#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: State,
    /// Trips in a row (reset by a success), for the cool-down's growth.
    trips: u32,
    total_trips: u64,
}

fn doubled(base: Duration, n: u32, max: Duration) -> Duration {
    base.saturating_mul(1u32 << n.min(20)).min(max)
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Breaker {
        Breaker {
            settings,
            state: State::Closed {
                failures: 0,
                until: None,
            },
            trips: 0,
            total_trips: 0,
        }
    }

    pub fn circuit(&self) -> Circuit {
        match self.state {
            State::Closed { .. } => Circuit::Closed,
            State::Open { .. } => Circuit::Open,
            State::HalfOpen { .. } => Circuit::HalfOpen,
        }
    }

    /// Times the circuit opened since start.
    pub fn trips(&self) -> u64 {
        self.total_trips
    }

    pub fn permit(&mut self, now: Instant) -> Permit {
        match self.state {
            State::Closed {
                until: Some(until), ..
            } if now < until => Permit::WaitUntil(until),
            State::Closed { .. } => Permit::Go,
            State::Open { until } if now < until => Permit::WaitUntil(until),
            State::Open { .. } | State::HalfOpen { probe_out: false } => {
                self.state = State::HalfOpen { probe_out: true };
                Permit::Probe
            }
            State::HalfOpen { probe_out: true } => Permit::WaitForProbe,
        }
    }

    /// The probe permit was not used (nothing was due): the next launch may be the probe.
    pub fn probe_unused(&mut self) {
        if let State::HalfOpen { probe_out: true } = self.state {
            self.state = State::HalfOpen { probe_out: false };
        }
    }

    /// The provider answered a launch (placed, or refused the request itself): the circuit
    /// closes. Returns whether it was not closed before.
    pub fn success(&mut self) -> bool {
        let reopened = !matches!(self.state, State::Closed { .. });
        self.state = State::Closed {
            failures: 0,
            until: None,
        };
        self.trips = 0;
        reopened
    }

    /// A transient failure. `jitter` (0.75 to 1.25, random in the dialer) spreads the waits.
    /// `probe` tells whether this launch was the half-open probe.
    pub fn failure(&mut self, now: Instant, probe: bool, jitter: f64) -> Verdict {
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.5, 1.5)
        } else {
            1.0
        };
        let s = self.settings;
        match self.state {
            State::Closed { failures, .. } if failures + 1 < s.threshold => {
                let wait = doubled(s.backoff, failures, s.backoff_max).mul_f64(jitter);
                self.state = State::Closed {
                    failures: failures + 1,
                    until: Some(now + wait),
                };
                Verdict::Backoff(wait)
            }
            State::Closed { .. } => self.open(now, jitter),
            State::HalfOpen { .. } if probe => self.open(now, jitter),
            // Launches sent before the trip, or a half-open state whose probe is still out.
            State::HalfOpen { .. } | State::Open { .. } => Verdict::Ignored,
        }
    }

    fn open(&mut self, now: Instant, jitter: f64) -> Verdict {
        let s = self.settings;
        let cool = doubled(s.cool, self.trips, s.cool_max).mul_f64(jitter);
        self.trips = self.trips.saturating_add(1);
        self.total_trips += 1;
        self.state = State::Open { until: now + cool };
        Verdict::Opened(cool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            threshold: 3,
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            cool: Duration::from_secs(30),
            cool_max: Duration::from_secs(100),
        }
    }

    #[test]
    fn failures_back_off_then_open_the_circuit() {
        let t0 = Instant::now();
        let mut b = Breaker::new(settings());
        assert_eq!(b.permit(t0), Permit::Go);
        assert_eq!(
            b.failure(t0, false, 1.0),
            Verdict::Backoff(Duration::from_secs(1))
        );
        assert_eq!(b.permit(t0), Permit::WaitUntil(t0 + Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.permit(t1), Permit::Go);
        assert_eq!(
            b.failure(t1, false, 1.0),
            Verdict::Backoff(Duration::from_secs(2))
        );
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(
            b.failure(t2, false, 1.0),
            Verdict::Opened(Duration::from_secs(30))
        );
        assert_eq!(b.circuit(), Circuit::Open);
        assert_eq!(b.trips(), 1);
        assert_eq!(
            b.permit(t2 + Duration::from_secs(29)),
            Permit::WaitUntil(t2 + Duration::from_secs(30))
        );
        // Late failures of launches sent before the trip change nothing.
        assert_eq!(b.failure(t2, false, 1.0), Verdict::Ignored);
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let t0 = Instant::now();
        let mut b = Breaker::new(settings());
        for _ in 0..3 {
            b.failure(t0, false, 1.0);
        }
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(b.permit(t1), Permit::Probe);
        assert_eq!(b.circuit(), Circuit::HalfOpen);
        assert_eq!(b.permit(t1), Permit::WaitForProbe);
        assert_eq!(b.permit(t1 + Duration::from_secs(99)), Permit::WaitForProbe);
        // Nothing was due after all: the permit goes back, the next launch is the probe.
        b.probe_unused();
        assert_eq!(b.permit(t1), Permit::Probe);
        // A late non-probe failure does not re-open it; the probe's does, for twice as long.
        assert_eq!(b.failure(t1, false, 1.0), Verdict::Ignored);
        assert_eq!(
            b.failure(t1, true, 1.0),
            Verdict::Opened(Duration::from_secs(60))
        );
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(b.permit(t2), Permit::Probe);
        // Capped at the maximum.
        assert_eq!(
            b.failure(t2, true, 1.0),
            Verdict::Opened(Duration::from_secs(100))
        );
        let t3 = t2 + Duration::from_secs(100);
        assert_eq!(b.permit(t3), Permit::Probe);
        // The probe got through: closed, and the counts start again.
        assert!(b.success());
        assert_eq!(b.circuit(), Circuit::Closed);
        assert_eq!(b.permit(t3), Permit::Go);
        assert!(!b.success());
        assert_eq!(
            b.failure(t3, false, 1.0),
            Verdict::Backoff(Duration::from_secs(1))
        );
        assert_eq!(b.trips(), 3);
    }

    #[test]
    fn jitter_spreads_waits_and_scaling_divides_them() {
        let t0 = Instant::now();
        let mut b = Breaker::new(settings());
        assert_eq!(
            b.failure(t0, false, 1.25),
            Verdict::Backoff(Duration::from_millis(1250))
        );
        // Nonsense jitter is bounded.
        assert_eq!(
            b.failure(t0, false, f64::NAN),
            Verdict::Backoff(Duration::from_secs(2))
        );
        let c = crate::config::Config::default();
        let s = BreakerSettings::from_config(&c, 100.0);
        assert_eq!(
            (s.threshold, s.backoff, s.backoff_max, s.cool, s.cool_max),
            (
                5,
                Duration::from_millis(10),
                Duration::from_millis(600),
                Duration::from_millis(300),
                Duration::from_secs(3)
            )
        );
        assert_eq!(
            BreakerSettings::from_config(&c, 0.5).cool,
            Duration::from_secs(30)
        );
    }
}
