//! `pregonero report`: picks the report the options ask for and renders it in the format asked.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::csv::CsvStyle;
use crate::campaign::phone;
use crate::config::Config;
use crate::store::Store;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Html,
}

/// What `pregonero report` was asked for.
#[derive(Debug, Clone)]
pub struct ReportArgs {
    pub campaign: Option<String>,
    pub format: Format,
    pub csv_style: CsvStyle,
    /// One row per contact.
    pub contacts: bool,
    /// One contact's timeline (a phone number in any accepted form).
    pub contact: Option<String>,
    pub compliance: bool,
}

/// What the campaign's folder says, if it still loads.
struct Loaded {
    plan: Option<crate::campaign::plan::CampaignPlan>,
    abandon_limit: Option<f64>,
    tz: Tz,
}

/// The campaign's schedule, zone and abandon-rate limit from its folder, if it still loads.
fn plan_of(config: &Config, campaign: &str, now: DateTime<Utc>) -> Loaded {
    let (loaded, _) = crate::app::load_campaigns(config, now);
    let fallback = config.calling.timezone.parse().unwrap_or(chrono_tz::UTC);
    match loaded.into_iter().find(|c| c.id == campaign) {
        Some(c) => Loaded {
            abandon_limit: super::abandon_limit(&c),
            tz: c.plan.tz,
            plan: Some(c.plan),
        },
        None => Loaded {
            plan: None,
            abandon_limit: None,
            tz: fallback,
        },
    }
}

/// A rendered report and whether it found a compliance breach (`report --compliance` then
/// exits with status 2).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub breach: bool,
}

fn json(v: &impl serde::Serialize) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    Ok(s)
}

/// Renders the report the arguments ask for.
pub async fn run(
    config: &Config,
    store: &Store,
    args: &ReportArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    Ok(render(config, store, args, now).await?.text)
}

/// Renders the report the arguments ask for, and says whether it found a breach.
pub async fn render(
    config: &Config,
    store: &Store,
    args: &ReportArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<Rendered> {
    let lang = config.ui.language;
    let plain = |text: String| Rendered {
        text,
        breach: false,
    };
    let needs_campaign = args.contacts || args.contact.is_some() || args.compliance;
    let campaign = match (&args.campaign, needs_campaign || args.format == Format::Html) {
        (Some(c), _) => Some(c.as_str()),
        (None, true) => anyhow::bail!(
            "name the campaign: --contacts, --contact, --compliance and --format html report one campaign"
        ),
        (None, false) => None,
    };
    if let (Some(c), Some(raw)) = (campaign, &args.contact) {
        let region = phone::region(&config.calling.default_region);
        let number = phone::normalize(raw, region).map_err(|e| anyhow::anyhow!("{e}"))?;
        let tz = plan_of(config, c, now).tz;
        let t = super::contact_timeline(store, c, &number, tz).await?;
        return match args.format {
            Format::Json => json(&t).map(plain),
            Format::Table => Ok(plain(t.to_table())),
            _ => anyhow::bail!("--contact prints as table or json"),
        };
    }
    if let (Some(c), true) = (campaign, args.compliance) {
        let l = plan_of(config, c, now);
        let r = super::compliance_report(store, c, l.plan.as_ref(), l.abandon_limit, l.tz).await?;
        let text = match args.format {
            Format::Json => json(&r)?,
            Format::Table => r.to_table(lang),
            _ => anyhow::bail!("--compliance prints as table or json (html reports include it)"),
        };
        return Ok(Rendered {
            text,
            breach: r.breached(),
        });
    }
    if let Some(c) = campaign {
        let l = plan_of(config, c, now);
        if args.format == Format::Html {
            return Ok(plain(
                super::html_report(
                    store,
                    c,
                    &super::HtmlContext {
                        plan: l.plan.as_ref(),
                        abandon_limit: l.abandon_limit,
                        tz: l.tz,
                        lang,
                    },
                    args.contacts,
                    now,
                )
                .await?,
            ));
        }
        if args.contacts {
            let t = super::contact_table(store, c, l.tz).await?.with_lang(lang);
            return Ok(plain(match args.format {
                Format::Csv => t.to_csv(args.csv_style),
                Format::Json => json(&t.to_json())?,
                Format::Table | Format::Html => t.to_table(),
            }));
        }
    }
    let reports = super::build(store, campaign).await?;
    Ok(plain(match args.format {
        Format::Json if campaign.is_some() && reports.len() == 1 => json(&reports[0])?,
        Format::Json => json(&reports)?,
        Format::Csv => super::summary_csv(&reports, args.csv_style),
        Format::Table | Format::Html => reports
            .iter()
            .map(|r| r.to_table())
            .collect::<Vec<_>>()
            .join("\n"),
    }))
}
