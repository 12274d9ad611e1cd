//! Campaign results for operators: the JSON of product.md and a human table (here), CSV for a
//! Spanish Excel or for scripts (`csv`), per-contact rows (`contacts`), a self-contained HTML page
//! with SVG charts (`html`, `svg`), one contact's timeline (`timeline`) and the compliance report
//! (`compliance`). `cli` turns `pregonero report` options into one of them.

pub mod agents;
pub mod cli;
pub mod compliance;
pub mod consent;
pub mod contacts;
pub mod csv;
pub mod html;
pub mod stream;
pub mod svg;
pub mod timeline;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::campaign::Kind;
use crate::store::{CampaignStats, Store, StoreError};

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
    /// Desk campaigns: how many calls got each disposition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispositions: Option<std::collections::BTreeMap<String, i64>>,
    /// Desk campaigns: per agent, calls, talk and wrap-up time, dispositions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<crate::store::AgentStats>>,
    /// Campaigns called back: what the inbound calls did (absent without any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound: Option<crate::store::InboundCounts>,
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
            .map(|s| {
                (
                    s.to_string(),
                    stats.states.get(s.as_str()).copied().unwrap_or(0),
                )
            })
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
            dispositions: None,
            agents: None,
            inbound: None,
        }
    }

    /// A table for a terminal.
    /// For a terminal, in the reader's language (labels of the stable identifiers).
    pub fn to_table(&self, lang: crate::i18n::Lang) -> String {
        let t = |key: &str| lang.text(key).to_string();
        let mut out = lang.fill(
            "table.heading",
            &[
                ("campaign", &self.campaign),
                ("kind", &lang.label(self.kind.as_str())),
                ("contacts", &self.contacts),
            ],
        );
        out.push('\n');
        out.push_str(&format!("  {}\n", t("table.states")));
        for (k, v) in &self.states.0 {
            out.push_str(&format!("    {:<18}{v:>8}\n", lang.label(k)));
        }
        out.push_str(&format!("  {}\n", t("table.attempts")));
        for (k, v) in &self.attempts.0 {
            out.push_str(&format!("    {:<18}{v:>8}\n", lang.label(k)));
        }
        out.push_str(&format!(
            "  {:<20}{:>8} s\n  {:<20}{:>10}\n",
            t("table.talk"),
            self.talk_seconds,
            t("table.cost"),
            lang.decimal(self.cost, 4) + " €"
        ));
        for (q, keys) in self.answers.iter().flatten() {
            let keys: Vec<String> = keys.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push_str(&format!(
                "  {} {q:<8}{}\n",
                t("table.answers"),
                keys.join(", ")
            ));
        }
        if let Some(a) = &self.abandon {
            let line = lang.fill(
                "table.abandoned",
                &[
                    ("abandoned", &a.abandoned_30d),
                    ("answered", &a.answered_30d),
                    ("rate", &lang.percent(a.rate_30d)),
                ],
            );
            out.push_str(&format!("  {line}\n"));
        }
        crate::report::agents::table_lines(self, lang, &mut out);
        if let Some(i) = &self.inbound {
            let line = lang.fill(
                "table.inbound",
                &[
                    ("calls", &i.calls),
                    ("matched", &i.matched),
                    ("to_agent", &i.to_agent),
                    ("opted_out", &i.opted_out),
                    ("confirmed", &i.confirmed),
                    ("cancelled", &i.cancelled),
                    ("callbacks_open", &i.callbacks_open),
                ],
            );
            out.push_str(&format!("  {line}\n"));
        }
        out
    }
}

/// Errors of `report`.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no campaign named \"{0}\" in the database (run `pregonero campaigns` to list them)")]
    UnknownCampaign(String),
    #[error("{phone} is not a contact of campaign {campaign}")]
    UnknownContact { campaign: String, phone: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the report: {0}")]
    Write(#[from] std::io::Error),
}

impl ReportError {
    /// The error people read: what they asked for that is not there in a sentence of the
    /// catalogue, any other error as it is.
    pub fn into_user(self) -> anyhow::Error {
        use crate::i18n::{Msg, UserError};
        match self {
            ReportError::UnknownCampaign(c) => {
                UserError::new(Msg::new("report.unknown_campaign").arg("campaign", c)).into()
            }
            ReportError::UnknownContact { campaign, phone } => UserError::new(
                Msg::new("report.unknown_contact")
                    .arg("campaign", campaign)
                    .arg("phone", phone),
            )
            .into(),
            other => other.into(),
        }
    }
}

/// Reports for one campaign, or all when `campaign` is `None`, as of `now_ms` (the abandon
/// rate's window, agents' idle time).
pub async fn build(
    store: &Store,
    campaign: Option<&str>,
    now_ms: i64,
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
            let since = now_ms - crate::calls::ABANDON_WINDOW_MS;
            let calls = store.answered_calls(&row.id, since).await?;
            report.abandon = Some(AbandonReport::from_calls(&calls));
        }
        crate::report::agents::fill(store, &mut report, now_ms).await?;
        let inbound = store.inbound_counts(&row.id).await?;
        if inbound.calls > 0 {
            report.inbound = Some(inbound);
        }
        out.push(report);
    }
    if let (Some(c), true) = (campaign, out.is_empty()) {
        return Err(ReportError::UnknownCampaign(c.to_string()));
    }
    Ok(out)
}

/// One row per campaign (summary CSV): campaign, kind, contacts, every state, attempts, talk
/// time, cost. With several campaigns the state columns are the union, first seen first.
pub fn summary_csv(reports: &[CampaignReport], style: csv::CsvStyle) -> String {
    use csv::Cell;
    let mut states: Vec<String> = Vec::new();
    for r in reports {
        for (k, _) in &r.states.0 {
            if !states.contains(k) {
                states.push(k.clone());
            }
        }
    }
    let mut header: Vec<String> = vec!["campaign".into(), "kind".into(), "contacts".into()];
    header.extend(states.iter().cloned());
    let attempt_keys: Vec<String> = reports
        .first()
        .map(|r| r.attempts.0.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    header.extend(attempt_keys.iter().map(|k| format!("attempts_{k}")));
    header.push("talk_seconds".into());
    header.push("cost".into());
    let get = |o: &Ordered, k: &str| o.0.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let rows: Vec<Vec<Cell>> = reports
        .iter()
        .map(|r| {
            let mut row = vec![
                Cell::Text(r.campaign.clone()),
                Cell::Text(r.kind.clone()),
                Cell::Int(r.contacts),
            ];
            for s in &states {
                row.push(match get(&r.states, s) {
                    Some(v) => Cell::Int(v),
                    None => Cell::Empty,
                });
            }
            for k in &attempt_keys {
                row.push(Cell::Int(get(&r.attempts, k).unwrap_or(0)));
            }
            row.push(Cell::Int(r.talk_seconds));
            row.push(Cell::Decimal(r.cost, 4));
            row
        })
        .collect();
    csv::write(style, &header, &rows)
}

/// The kind of a stored campaign.
pub(crate) async fn kind_of(store: &Store, campaign: &str) -> Result<Kind, ReportError> {
    store
        .campaigns()
        .await?
        .into_iter()
        .find(|r| r.id == campaign)
        .map(|r| Kind::parse(&r.kind).unwrap_or(Kind::Announcement))
        .ok_or_else(|| ReportError::UnknownCampaign(campaign.to_string()))
}

/// The contacts of a campaign, one row each, all in memory (small campaigns and tests;
/// `report --contacts` streams with [`stream::write_contacts`]).
pub async fn contact_table(
    store: &Store,
    campaign: &str,
    tz: chrono_tz::Tz,
) -> Result<contacts::ContactTable, ReportError> {
    kind_of(store, campaign).await?;
    stream::load(store, campaign, tz, crate::i18n::Lang::default(), None).await
}

/// The compliance report, with what the campaign's folder says in `ctx`: `plan` is its
/// schedule (`None` when the folder is gone: the window check then reads "unknown"),
/// `abandon_limit` its `max_abandon_rate` ([`abandon_limit`]; a sales campaign whose folder is
/// gone is held to the default), `consent_valid_for` how long consent lasts.
pub async fn compliance_report(
    store: &Store,
    campaign: &str,
    ctx: &HtmlContext<'_>,
) -> Result<compliance::Compliance, ReportError> {
    let kind = kind_of(store, campaign).await?;
    let facts = store.attempt_facts(campaign).await?;
    let stats = store.stats(campaign).await?;
    let outs = store.opt_outs(campaign).await?;
    let mut report = compliance::compute(&compliance::Inputs {
        campaign,
        kind: kind.as_str(),
        tz: ctx.tz,
        plan: ctx.plan,
        facts: &facts,
        blocked: stats.states.get("blocked").copied().unwrap_or(0),
        opt_outs: &outs,
        abandon_limit: (kind == Kind::Sales).then(|| {
            ctx.abandon_limit
                .unwrap_or(compliance::DEFAULT_ABANDON_LIMIT)
        }),
    });
    // Consent is the basis of promotion and sales calls.
    if matches!(kind, Kind::Promotion | Kind::Sales) {
        let mut counts = consent::Counter::new(ctx.consent_valid_for);
        store
            .contact_report_each(campaign, |c| {
                counts.contact(&c);
                Ok::<_, StoreError>(())
            })
            .await?;
        report.consent = Some(counts.launches(&facts, ctx.tz));
    }
    Ok(report)
}

/// A loaded campaign's abandon-rate limit (sales campaigns only).
pub fn abandon_limit(c: &crate::campaign::Campaign) -> Option<f64> {
    match &c.flow {
        crate::campaign::FlowSettings::Sales(s) => Some(s.max_abandon_rate),
        _ => None,
    }
}

/// What a report needs beyond the store: the campaign as loaded from its folder (if it still
/// loads) and the reader's language.
pub struct HtmlContext<'a> {
    pub plan: Option<&'a crate::campaign::plan::CampaignPlan>,
    pub abandon_limit: Option<f64>,
    /// How long consent lasts (`consent_valid_for`), when the campaign requires it.
    pub consent_valid_for: Option<crate::campaign::consent::ValidFor>,
    pub tz: chrono_tz::Tz,
    pub lang: crate::i18n::Lang,
}

impl<'a> HtmlContext<'a> {
    /// From the loaded campaign, or the defaults when its folder no longer loads.
    pub fn of(
        loaded: Option<&'a crate::calls::ActiveCampaign>,
        default_tz: chrono_tz::Tz,
        lang: crate::i18n::Lang,
    ) -> HtmlContext<'a> {
        match loaded {
            Some(c) => HtmlContext {
                plan: Some(&c.plan),
                abandon_limit: abandon_limit(c),
                consent_valid_for: c.consent_valid_for.filter(|_| c.require_consent),
                tz: c.plan.tz,
                lang,
            },
            None => HtmlContext {
                plan: None,
                abandon_limit: None,
                consent_valid_for: None,
                tz: default_tz,
                lang,
            },
        }
    }
}

/// The self-contained HTML page of a campaign (with the compliance section, and the contacts
/// table when asked), headed by the campaign's title.
pub async fn html_report(
    store: &Store,
    campaign: &str,
    ctx: &HtmlContext<'_>,
    with_contacts: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, ReportError> {
    let report = build(store, Some(campaign), now.timestamp_millis())
        .await?
        .remove(0);
    let title = store
        .campaigns()
        .await?
        .into_iter()
        .find(|r| r.id == campaign)
        .map(|r| r.title)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| campaign.to_string());
    let facts = store.attempt_facts(campaign).await?;
    let data = html::ChartData::compute(&report, &facts, ctx.tz, ctx.lang);
    let comp = compliance_report(store, campaign, ctx).await?;
    // The table shows the first contacts; the summary and charts above count them all.
    let table = if with_contacts {
        Some(
            stream::load(
                store,
                campaign,
                ctx.tz,
                ctx.lang,
                Some(stream::HTML_CONTACTS),
            )
            .await?,
        )
    } else {
        None
    };
    Ok(html::render(
        &report,
        &data,
        Some(&comp),
        table.as_ref(),
        &html::Page {
            title: &title,
            lang: ctx.lang,
            generated: now.with_timezone(&ctx.tz),
        },
    ))
}

/// One contact's timeline; `phone` is E.164.
pub async fn contact_timeline(
    store: &Store,
    campaign: &str,
    phone: &str,
    tz: chrono_tz::Tz,
) -> Result<timeline::Timeline, ReportError> {
    kind_of(store, campaign).await?;
    let Some(contact) = store.contact(campaign, phone).await? else {
        return Err(ReportError::UnknownContact {
            campaign: campaign.to_string(),
            phone: phone.to_string(),
        });
    };
    let attempts = store.attempts_of(contact.contact_id).await?;
    let events = store.events_of(contact.contact_id).await?;
    let lines = store.report_lines_of(contact.contact_id).await?;
    let said = store.captures_of_contact(contact.contact_id).await?;
    let inbound = store.inbound_calls_of(contact.contact_id).await?;
    let mut t = timeline::Timeline::build(&contact, &attempts, &events, &lines, tz)
        .with_captures(&said, tz)
        .with_inbound(&inbound, tz);
    crate::report::agents::timeline_dispositions(store, &attempts, &mut t, tz).await?;
    Ok(t)
}

/// Where a campaign stands, said one way wherever it is shown (`pregonero campaigns`, the
/// dashboard): a stable identifier and the words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignState {
    /// `paused`, `finished`, `folder_missing`, `flow_unavailable`, `waiting` (not calling now:
    /// outside its hours, before its start, between rounds) or `active`.
    pub state: &'static str,
    /// e.g. "outside calling hours until Sat 10:00 (Europe/Madrid)", "paused (by an operator)".
    pub text: String,
}

/// The state of campaign `row` with `waiting` contacts not yet final; `loaded` is the campaign
/// as loaded from its folder, if it loads. The words are in `lang`; a waiting campaign's reason
/// is the schedule's own.
pub fn campaign_state(
    row: &crate::store::CampaignRow,
    waiting: i64,
    loaded: Option<&crate::calls::ActiveCampaign>,
    now: chrono::DateTime<chrono::Utc>,
    lang: crate::i18n::Lang,
) -> CampaignState {
    let t = |k: &str| lang.text(k).to_string();
    let (state, text) = if row.paused {
        (
            "paused",
            format!(
                "{} ({})",
                t("campaign.paused"),
                row.paused_reason
                    .clone()
                    .unwrap_or_else(|| t("campaign.by_operator"))
            ),
        )
    } else if waiting == 0 {
        ("finished", t("campaign.finished"))
    } else {
        match loaded {
            None => ("folder_missing", t("campaign.folder_missing")),
            Some(c) => match c.plan.campaign_status_msg(now) {
                Some(why) => ("waiting", lang.render(&why)),
                None => ("active", t("campaign.active")),
            },
        }
    };
    CampaignState { state, text }
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

    #[test]
    fn summary_csv_is_one_row_per_campaign() {
        let stats = CampaignStats {
            contacts: 1,
            cost: 1.5,
            ..Default::default()
        };
        let r = CampaignReport::from_stats("a", Kind::Announcement, &stats);
        let s = summary_csv(&[r], csv::CsvStyle::Excel);
        let mut lines = s.trim_start_matches('\u{feff}').lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("campaign;kind;contacts;pending;"));
        let row = lines.next().unwrap();
        assert!(row.starts_with("a;announcement;1;0;"), "{row}");
        assert!(row.ends_with(";0;1,5000"), "{row}");
    }
}
