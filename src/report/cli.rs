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

/// The campaign's schedule and zone from its folder, if it still loads.
fn plan_of(
    config: &Config,
    campaign: &str,
    now: DateTime<Utc>,
) -> (Option<crate::campaign::plan::CampaignPlan>, Tz) {
    let (loaded, _) = crate::app::load_campaigns(config, now);
    let fallback = config.calling.timezone.parse().unwrap_or(chrono_tz::UTC);
    match loaded.into_iter().find(|c| c.id == campaign) {
        Some(c) => {
            let tz = c.plan.tz;
            (Some(c.plan), tz)
        }
        None => (None, fallback),
    }
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
        let (_, tz) = plan_of(config, c, now);
        let t = super::contact_timeline(store, c, &number, tz).await?;
        return match args.format {
            Format::Json => json(&t),
            Format::Table => Ok(t.to_table()),
            _ => anyhow::bail!("--contact prints as table or json"),
        };
    }
    if let (Some(c), true) = (campaign, args.compliance) {
        let (plan, tz) = plan_of(config, c, now);
        let r = super::compliance_report(store, c, plan.as_ref(), tz).await?;
        return match args.format {
            Format::Json => json(&r),
            Format::Table => Ok(r.to_table()),
            _ => anyhow::bail!("--compliance prints as table or json (html reports include it)"),
        };
    }
    if let Some(c) = campaign {
        let (plan, tz) = plan_of(config, c, now);
        if args.format == Format::Html {
            return Ok(super::html_report(store, c, plan.as_ref(), tz, args.contacts, now).await?);
        }
        if args.contacts {
            let t = super::contact_table(store, c, tz).await?;
            return Ok(match args.format {
                Format::Csv => t.to_csv(args.csv_style),
                Format::Json => json(&t.to_json())?,
                Format::Table | Format::Html => t.to_table(),
            });
        }
    }
    let reports = super::build(store, campaign).await?;
    Ok(match args.format {
        Format::Json if campaign.is_some() && reports.len() == 1 => json(&reports[0])?,
        Format::Json => json(&reports)?,
        Format::Csv => super::summary_csv(&reports, args.csv_style),
        Format::Table | Format::Html => reports
            .iter()
            .map(|r| r.to_table())
            .collect::<Vec<_>>()
            .join("\n"),
    })
}
