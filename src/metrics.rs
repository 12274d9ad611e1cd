//! Prometheus metrics, rendered by hand in the text exposition format (no exporter crate:
//! a few atomics are all the daemon needs).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the control-request latency histogram.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Counters and a histogram shared by the dialer and the webhooks.
#[derive(Debug, Default)]
pub struct Metrics {
    pub launches: AtomicU64,
    pub launch_failures: AtomicU64,
    pub answers: AtomicU64,
    pub pacing_waits: AtomicU64,
    pub report_lines: AtomicU64,
    /// The provider circuit: 0 closed, 1 open, 2 half-open (see [`crate::breaker`]).
    pub circuit: AtomicU64,
    pub circuit_trips: AtomicU64,
    outcomes: Mutex<BTreeMap<String, u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A contact reached this state after an attempt.
    pub fn outcome(&self, state: &str) {
        let mut m = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(state.to_string()).or_default() += 1;
    }

    /// Time spent answering one control request.
    pub fn control_latency(&self, d: std::time::Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// The text exposition; `due` is the number of contacts waiting per campaign.
    pub fn render(&self, due: &[(String, i64)], in_flight: usize) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "pregonero_launches_total",
            "Calls launched (the provider returned a call id).",
            self.launches.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pregonero_launch_failures_total",
            "Launches the provider did not place.",
            self.launch_failures.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pregonero_answers_total",
            "Calls answered by the callee.",
            self.answers.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pregonero_pacing_waits_total",
            "Times the dialer waited for the calls-per-second limit.",
            self.pacing_waits.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pregonero_report_lines_total",
            "Call-report lines ingested.",
            self.report_lines.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pregonero_provider_circuit_trips_total",
            "Times the provider circuit opened after failures in a row.",
            self.circuit_trips.load(Ordering::Relaxed),
        );
        let circuit = self.circuit.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP pregonero_provider_circuit Provider circuit state (1 for the current one).\n# TYPE pregonero_provider_circuit gauge");
        for (i, name) in ["closed", "open", "half_open"].iter().enumerate() {
            let on = u64::from(circuit == i as u64);
            let _ = writeln!(out, "pregonero_provider_circuit{{state=\"{name}\"}} {on}");
        }
        let _ = writeln!(out, "# HELP pregonero_outcomes_total Contact states reached after an attempt.\n# TYPE pregonero_outcomes_total counter");
        for (k, v) in self
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(out, "pregonero_outcomes_total{{state=\"{k}\"}} {v}");
        }
        let _ = writeln!(out, "# HELP pregonero_calls_in_progress Calls launched and not ended.\n# TYPE pregonero_calls_in_progress gauge\npregonero_calls_in_progress {in_flight}");
        let _ = writeln!(out, "# HELP pregonero_contacts_due Contacts waiting to be called.\n# TYPE pregonero_contacts_due gauge");
        for (c, n) in due {
            let _ = writeln!(out, "pregonero_contacts_due{{campaign=\"{c}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP pregonero_control_request_seconds Time to answer a control request.\n# TYPE pregonero_control_request_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "pregonero_control_request_seconds_bucket{{le=\"{b}\"}} {}",
                self.latency_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "pregonero_control_request_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "pregonero_control_request_seconds_sum {}",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "pregonero_control_request_seconds_count {count}");
        out
    }
}

/// The abandon-rate gauge of sales campaigns (rolling 30 days), in the text format.
pub fn render_abandon_rates(rates: &[(String, f64)]) -> String {
    let mut out = String::new();
    if rates.is_empty() {
        return out;
    }
    let _ = writeln!(out, "# HELP pregonero_sales_abandon_rate Answered sales calls no agent took in time, rolling 30 days.\n# TYPE pregonero_sales_abandon_rate gauge");
    for (c, r) in rates {
        let _ = writeln!(out, "pregonero_sales_abandon_rate{{campaign=\"{c}\"}} {r}");
    }
    out
}

/// One sales campaign's agents for `/metrics`: the pacing's view and its transfer totals.
#[derive(Debug, Clone)]
pub struct AgentLine {
    pub campaign: String,
    pub view: crate::pacing::AgentView,
    pub bridged_total: u64,
    pub unanswered_total: u64,
}

/// Gauges and counters of the sales agents estimate (see [`crate::pacing`]).
pub fn render_agents(lines: &[AgentLine]) -> String {
    let mut out = String::new();
    if lines.is_empty() {
        return out;
    }
    type Series = (
        &'static str,
        &'static str,
        &'static str,
        fn(&AgentLine) -> String,
    );
    let series: [Series; 5] = [
        ("pregonero_sales_agents_present", "gauge", "Agents the pacing believes present (the setting, or fewer after transfers nobody took).", |l| l.view.agents.to_string()),
        ("pregonero_sales_calls_in_transfer", "gauge", "Sales calls with an agent or waiting for one.", |l| l.view.in_transfer.to_string()),
        ("pregonero_sales_bridged_seconds_mean", "gauge", "Mean duration of the recent bridged transfers.", |l| format!("{}", l.view.mean_bridged_ms.unwrap_or(0) as f64 / 1000.0)),
        ("pregonero_sales_transfers_bridged_total", "counter", "Transfers an agent took, since start.", |l| l.bridged_total.to_string()),
        ("pregonero_sales_transfers_unanswered_total", "counter", "Transfers no agent took, since start.", |l| l.unanswered_total.to_string()),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for l in lines {
            let _ = writeln!(out, "{name}{{campaign=\"{}\"}} {}", l.campaign, value(l));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let m = Metrics::default();
        Metrics::inc(&m.launches);
        m.outcome("delivered");
        m.control_latency(std::time::Duration::from_micros(1500));
        let text = m.render(&[("c1".into(), 7)], 2);
        assert!(text.contains("pregonero_launches_total 1"));
        assert!(text.contains("pregonero_provider_circuit{state=\"closed\"} 1\npregonero_provider_circuit{state=\"open\"} 0\n"));
        assert!(text.contains("pregonero_outcomes_total{state=\"delivered\"} 1"));
        assert!(text.contains("pregonero_contacts_due{campaign=\"c1\"} 7"));
        assert!(text.contains("pregonero_control_request_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("pregonero_control_request_seconds_bucket{le=\"0.002\"} 1"));
        assert!(text.contains("pregonero_control_request_seconds_count 1"));
        assert_eq!(render_abandon_rates(&[]), "");
        assert_eq!(render_agents(&[]), "");
        let agents = render_agents(&[AgentLine {
            campaign: "v".into(),
            view: crate::pacing::AgentView {
                agents: 3,
                in_transfer: 2,
                mean_bridged_ms: Some(61_500),
                ..Default::default()
            },
            bridged_total: 9,
            unanswered_total: 1,
        }]);
        assert!(
            agents.contains("pregonero_sales_agents_present{campaign=\"v\"} 3\n"),
            "{agents}"
        );
        assert!(agents.contains("pregonero_sales_calls_in_transfer{campaign=\"v\"} 2\n"));
        assert!(agents.contains("pregonero_sales_bridged_seconds_mean{campaign=\"v\"} 61.5\n"));
        assert!(agents.contains("# TYPE pregonero_sales_transfers_unanswered_total counter\npregonero_sales_transfers_unanswered_total{campaign=\"v\"} 1\n"));
        assert!(render_abandon_rates(&[("v".into(), 0.25)])
            .contains("pregonero_sales_abandon_rate{campaign=\"v\"} 0.25"));
    }
}
