//! Campaign results for operators: the JSON of product.md and a human table.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::campaign::Kind;
use crate::store::{Backend, CampaignStats, Store, StoreError};

/// Counts in a fixed order (serialised as a JSON object in that order).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered(pub Vec<(String, i64)>);

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `pregonero report CAMPAIGN --format json`, exactly as product.md shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CampaignReport {
    pub campaign: String,
    pub kind: String,
    pub contacts: i64,
    /// Every state of the closed list that applies to the kind, zeros included.
    pub states: Ordered,
    /// `total` counts every placed attempt; `failed` gathers the ended ones that were neither
    /// answered, busy nor unanswered (unreachable, congestion, refused, lost).
    pub attempts: Ordered,
    pub talk_seconds: i64,
    pub cost: f64,
    /// Surveys only: per question, how many contacts pressed each key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers:
        Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>>,
    /// Sales only: answered calls no agent took in time, rolling 30 days and per day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandon: Option<AbandonReport>,
}

/// Abandoned sales calls: answered, but no agent took them within `abandon_after_seconds`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AbandonReport {
    /// Abandoned / answered over the last 30 days (0 with no answered call).
    pub rate_30d: f64,
    pub answered_30d: i64,
    pub abandoned_30d: i64,
    /// One entry per UTC day with answered calls, oldest first.
    pub by_day: Vec<AbandonDay>,
}

/// One day of [`AbandonReport`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AbandonDay {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub answered: i64,
    pub abandoned: i64,
    pub rate: f64,
}

fn rate(abandoned: i64, answered: i64) -> f64 {
    if answered <= 0 {
        return 0.0;
    }
    (abandoned as f64 / answered as f64 * 10_000.0).round() / 10_000.0
}

impl AbandonReport {
    /// From the (answer time ms, outcome) of the answered calls of the last 30 days.
    pub fn from_calls(calls: &[(i64, Option<String>)]) -> AbandonReport {
        let mut days = std::collections::BTreeMap::<String, (i64, i64)>::new();
        for (at, outcome) in calls {
            let date = chrono::DateTime::from_timestamp_millis(*at)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let d = days.entry(date).or_default();
            d.0 += 1;
            d.1 += i64::from(outcome.as_deref() == Some("abandoned"));
        }
        let answered: i64 = days.values().map(|d| d.0).sum();
        let abandoned: i64 = days.values().map(|d| d.1).sum();
        AbandonReport {
            rate_30d: rate(abandoned, answered),
            answered_30d: answered,
            abandoned_30d: abandoned,
            by_day: days
                .into_iter()
                .map(|(date, (answered, abandoned))| AbandonDay {
                    date,
                    answered,
                    abandoned,
                    rate: rate(abandoned, answered),
                })
                .collect(),
        }
    }
}

impl CampaignReport {
    pub fn from_stats(campaign: &str, kind: Kind, stats: &CampaignStats) -> CampaignReport {
        let states = kind
            .states()
            .into_iter()
            .map(|s| (s.to_string(), stats.states.get(s).copied().unwrap_or(0)))
            .collect();
        let get = |k: &str| stats.attempts.get(k).copied().unwrap_or(0);
        let total: i64 = stats.attempts.values().sum();
        let (answered, busy, no_answer) = (get("answered"), get("busy"), get("no_answer"));
        let failed = total - answered - busy - no_answer - get("open");
        CampaignReport {
            campaign: campaign.to_string(),
            kind: kind.as_str().to_string(),
            contacts: stats.contacts,
            states: Ordered(states),
            attempts: Ordered(vec![
                ("total".into(), total),
                ("answered".into(), answered),
                ("busy".into(), busy),
                ("no_answer".into(), no_answer),
                ("failed".into(), failed),
            ]),
            talk_seconds: stats.talk_seconds,
            cost: (stats.cost * 10_000.0).round() / 10_000.0,
            answers: None,
            abandon: None,
        }
    }

    /// A table for a terminal.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "{} ({}) — {} contacts\n",
            self.campaign, self.kind, self.contacts
        );
        out.push_str("  states:\n");
        for (k, v) in &self.states.0 {
            out.push_str(&format!("    {k:<16}{v:>8}\n"));
        }
        out.push_str("  attempts:\n");
        for (k, v) in &self.attempts.0 {
            out.push_str(&format!("    {k:<16}{v:>8}\n"));
        }
        out.push_str(&format!(
            "  talk time       {:>8} s\n  cost            {:>10.4} €\n",
            self.talk_seconds, self.cost
        ));
        for (q, keys) in self.answers.iter().flatten() {
            let keys: Vec<String> = keys.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push_str(&format!("  answers {q:<8}{}\n", keys.join(", ")));
        }
        if let Some(a) = &self.abandon {
            out.push_str(&format!(
                "  abandoned 30 d  {:>8} of {} answered ({:.1} %)\n",
                a.abandoned_30d,
                a.answered_30d,
                a.rate_30d * 100.0
            ));
        }
        out
    }
}

/// Errors of `report`.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no campaign named \"{0}\" in the database (run `pregonero campaigns` to list them)")]
    UnknownCampaign(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reports for one campaign, or all when `campaign` is `None`.
pub async fn build(
    store: &Store,
    campaign: Option<&str>,
) -> Result<Vec<CampaignReport>, ReportError> {
    let rows = store.campaigns().await?;
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| campaign.is_none_or(|c| c == r.id)) {
        let kind = Kind::parse(&row.kind).unwrap_or(Kind::Announcement);
        let stats = store.stats(&row.id).await?;
        let mut report = CampaignReport::from_stats(&row.id, kind, &stats);
        if kind == Kind::Survey {
            let mut answers =
                std::collections::BTreeMap::<String, std::collections::BTreeMap<String, i64>>::new(
                );
            for (question, key, n) in store.survey_answers(&row.id).await? {
                answers.entry(question).or_default().insert(key, n);
            }
            report.answers = Some(answers);
        }
        if kind == Kind::Sales {
            let since = chrono::Utc::now().timestamp_millis() - crate::dialer::ABANDON_WINDOW_MS;
            let calls = store.answered_calls(&row.id, since).await?;
            report.abandon = Some(AbandonReport::from_calls(&calls));
        }
        out.push(report);
    }
    if let (Some(c), true) = (campaign, out.is_empty()) {
        return Err(ReportError::UnknownCampaign(c.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandon_rates_per_day_and_over_the_window() {
        let day = 86_400_000;
        let t = 1_780_000_000_000 - 1_780_000_000_000 % day;
        let a = |at: i64, o: &str| (at, Some(o.to_string()));
        let r = AbandonReport::from_calls(&[
            a(t + 1, "connected"),
            a(t + 2, "abandoned"),
            a(t + 3, "connected"),
            a(t + day, "connected"),
            (t + day + 1, None),
        ]);
        assert_eq!((r.answered_30d, r.abandoned_30d, r.rate_30d), (5, 1, 0.2));
        assert_eq!(r.by_day.len(), 2);
        assert_eq!(
            (
                r.by_day[0].answered,
                r.by_day[0].abandoned,
                r.by_day[0].rate
            ),
            (3, 1, 0.3333)
        );
        assert_eq!((r.by_day[1].answered, r.by_day[1].rate), (2, 0.0));
        let j = serde_json::to_value(AbandonReport::from_calls(&[])).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"rate_30d": 0.0, "answered_30d": 0, "abandoned_30d": 0, "by_day": []})
        );
    }

    #[test]
    fn json_matches_the_contract_shape() {
        let mut stats = CampaignStats {
            contacts: 3,
            ..Default::default()
        };
        stats.states.insert("delivered".into(), 2);
        stats.states.insert("unreachable".into(), 1);
        stats.attempts.insert("answered".into(), 2);
        stats.attempts.insert("busy".into(), 2);
        stats.attempts.insert("unreachable".into(), 1);
        stats.talk_seconds = 40;
        stats.cost = 0.1 + 0.2;
        let r = CampaignReport::from_stats("anuncio", Kind::Announcement, &stats);
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(
            j,
            r#"{"campaign":"anuncio","kind":"announcement","contacts":3,"states":{"pending":0,"scheduled":0,"in_progress":0,"delivered":2,"no_response":0,"unreachable":1,"invalid_number":0,"blocked":0,"expired":0,"failed":0},"attempts":{"total":5,"answered":2,"busy":2,"no_answer":0,"failed":1},"talk_seconds":40,"cost":0.3}"#
        );
    }
}
