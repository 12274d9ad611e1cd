//! Prometheus metrics, rendered by hand in the text exposition format (no exporter crate:
//! a few atomics and labelled counters are all the daemon needs).
//!
//! Guarantees: launches, answers and outcomes carry the campaign label; every ingested report
//! line is counted (`pregonero_report_lines_total`), the lines that closed an attempt again on
//! their own (`pregonero_report_lines_closing_total`); outcomes are final states and `pending`
//! contacts, never the `scheduled` of a retry (that is `pregonero_retries_total`); ratios end in
//! `_ratio`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the control-request latency histogram, up to the provider's
/// request timeout (5 s): a slow answer is still in a bucket of its own.
const BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Counters by label values (the campaign, or the campaign and a state).
type Labelled<K> = Mutex<BTreeMap<K, u64>>;

fn bump<K: Ord>(m: &Labelled<K>, key: K, by: u64) {
    let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
    *m.entry(key).or_default() += by;
}

/// A label value as the text format wants it: `\`, `"` and line breaks escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counters and a histogram shared by the dialer and the webhooks.
#[derive(Debug, Default)]
pub struct Metrics {
    launches: Labelled<String>,
    pub launch_failures: AtomicU64,
    answers: Labelled<String>,
    pub pacing_waits: AtomicU64,
    report_lines: AtomicU64,
    report_lines_closing: AtomicU64,
    /// The provider circuit: 0 closed, 1 open, 2 half-open (see [`crate::breaker`]).
    pub circuit: AtomicU64,
    pub circuit_trips: AtomicU64,
    outcomes: Labelled<(String, String)>,
    retries: Labelled<String>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A call of `campaign` was launched (the provider returned a call id).
    pub fn launched(&self, campaign: &str) {
        bump(&self.launches, campaign.to_string(), 1);
    }

    /// A call of `campaign` was answered (its start request came).
    pub fn answered(&self, campaign: &str) {
        bump(&self.answers, campaign.to_string(), 1);
    }

    /// A contact of `campaign` reached this state after an attempt. `scheduled` (another try
    /// later) is not an outcome: it is counted as a retry.
    pub fn outcome(&self, campaign: &str, state: &str) {
        if state == "scheduled" {
            bump(&self.retries, campaign.to_string(), 1);
        } else {
            bump(&self.outcomes, (campaign.to_string(), state.to_string()), 1);
        }
    }

    /// Report lines ingested (new ones, duplicates left out) and how many of them closed an
    /// attempt.
    pub fn report_lines(&self, ingested: u64, closing: u64) {
        self.report_lines.fetch_add(ingested, Ordering::Relaxed);
        self.report_lines_closing
            .fetch_add(closing, Ordering::Relaxed);
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
        let by_campaign = |out: &mut String, name: &str, help: &str, m: &Labelled<String>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (c, v) in m.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let _ = writeln!(out, "{name}{{campaign=\"{}\"}} {v}", label(c));
            }
        };
        by_campaign(
            &mut out,
            "pregonero_launches_total",
            "Calls launched (the provider returned a call id).",
            &self.launches,
        );
        counter(
            &mut out,
            "pregonero_launch_failures_total",
            "Launches the provider did not place.",
            self.launch_failures.load(Ordering::Relaxed),
        );
        by_campaign(
            &mut out,
            "pregonero_answers_total",
            "Calls answered by the callee.",
            &self.answers,
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
            "Call-report lines ingested (every new line, whether or not it closed an attempt).",
            self.report_lines.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pregonero_report_lines_closing_total",
            "Call-report lines that closed an attempt still open.",
            self.report_lines_closing.load(Ordering::Relaxed),
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
        let _ = writeln!(out, "# HELP pregonero_outcomes_total Contact states reached after an attempt (a retry is not one).\n# TYPE pregonero_outcomes_total counter");
        for ((c, state), v) in self
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "pregonero_outcomes_total{{campaign=\"{}\",state=\"{}\"}} {v}",
                label(c),
                label(state)
            );
        }
        by_campaign(
            &mut out,
            "pregonero_retries_total",
            "Attempts that ended with another try scheduled.",
            &self.retries,
        );
        let _ = writeln!(out, "# HELP pregonero_calls_in_progress Calls launched and not ended.\n# TYPE pregonero_calls_in_progress gauge\npregonero_calls_in_progress {in_flight}");
        let _ = writeln!(out, "# HELP pregonero_contacts_due Contacts waiting to be called.\n# TYPE pregonero_contacts_due gauge");
        for (c, n) in due {
            let _ = writeln!(
                out,
                "pregonero_contacts_due{{campaign=\"{}\"}} {n}",
                label(c)
            );
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
    let _ = writeln!(out, "# HELP pregonero_sales_abandon_ratio Share (0-1) of answered sales calls no agent took in time, rolling 30 days.\n# TYPE pregonero_sales_abandon_ratio gauge");
    for (c, r) in rates {
        let _ = writeln!(
            out,
            "pregonero_sales_abandon_ratio{{campaign=\"{}\"}} {r}",
            label(c)
        );
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
            let _ = writeln!(
                out,
                "{name}{{campaign=\"{}\"}} {}",
                label(&l.campaign),
                value(l)
            );
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
        m.launched("c1");
        m.answered("c1");
        m.outcome("c1", "delivered");
        m.outcome("c1", "scheduled");
        m.report_lines(3, 1);
        m.control_latency(std::time::Duration::from_micros(1500));
        m.control_latency(std::time::Duration::from_millis(4200));
        let text = m.render(&[("c1".into(), 7)], 2);
        assert!(text.contains("pregonero_launches_total{campaign=\"c1\"} 1\n"));
        assert!(text.contains("pregonero_answers_total{campaign=\"c1\"} 1\n"));
        assert!(text.contains("pregonero_report_lines_total 3\n"));
        assert!(text.contains("pregonero_report_lines_closing_total 1\n"));
        assert!(text.contains("pregonero_retries_total{campaign=\"c1\"} 1\n"));
        assert!(!text.contains("state=\"scheduled\""), "{text}");
        assert!(text.contains("pregonero_control_request_seconds_bucket{le=\"2.5\"} 1\n"));
        assert!(text.contains("pregonero_control_request_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("pregonero_provider_circuit{state=\"closed\"} 1\npregonero_provider_circuit{state=\"open\"} 0\n"));
        assert!(text.contains("pregonero_outcomes_total{campaign=\"c1\",state=\"delivered\"} 1"));
        assert!(text.contains("pregonero_contacts_due{campaign=\"c1\"} 7"));
        assert!(text.contains("pregonero_control_request_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("pregonero_control_request_seconds_bucket{le=\"0.002\"} 1"));
        assert!(text.contains("pregonero_control_request_seconds_count 2"));
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
            .contains("pregonero_sales_abandon_ratio{campaign=\"v\"} 0.25"));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
