//! `pregonero report`: picks the report the options ask for and renders it in the format asked.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::csv::CsvStyle;
use crate::campaign::phone;
use crate::config::Config;
use crate::i18n::{Msg, UserError};
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
    /// One row per desk agent.
    pub agents: bool,
}

/// The campaign as loaded from its folder, if it still loads, and the zone to use without it.
fn loaded(
    config: &Config,
    campaign: &str,
    now: DateTime<Utc>,
) -> (Option<crate::calls::ActiveCampaign>, Tz) {
    let (loaded, _) = crate::calls::load_campaigns(config, now);
    let fallback = config.calling.timezone.parse().unwrap_or(chrono_tz::UTC);
    (loaded.into_iter().find(|c| c.id == campaign), fallback)
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
    let mut bytes = Vec::new();
    let breach = render_to(config, store, args, now, &mut bytes).await?;
    Ok(Rendered {
        text: String::from_utf8(bytes)?,
        breach,
    })
}

/// Writes the report the arguments ask for to `out` (`report --contacts` as it reads the
/// contacts), and says whether it found a compliance breach.
pub async fn render_to(
    config: &Config,
    store: &Store,
    args: &ReportArgs,
    now: DateTime<Utc>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<bool> {
    write_report(config, store, args, now, out)
        .await
        .map_err(|e| match e.downcast::<super::ReportError>() {
            Ok(r) => r.into_user(),
            Err(e) => e,
        })
}

async fn write_report(
    config: &Config,
    store: &Store,
    args: &ReportArgs,
    now: DateTime<Utc>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<bool> {
    let said = |key: &str| anyhow::Error::from(UserError::new(Msg::new(key)));
    let lang = config.ui.language;
    let mut plain = |text: String| -> anyhow::Result<bool> {
        out.write_all(text.as_bytes())?;
        Ok(false)
    };
    let needs_campaign = args.contacts || args.contact.is_some() || args.compliance || args.agents;
    let campaign = match (
        &args.campaign,
        needs_campaign || args.format == Format::Html,
    ) {
        (Some(c), _) => Some(c.as_str()),
        (None, true) => return Err(said("report.needs_campaign")),
        (None, false) => None,
    };
    if let (Some(c), Some(raw)) = (campaign, &args.contact) {
        let region = phone::region(&config.calling.default_region);
        let number = phone::normalize(raw, region).map_err(|e| {
            UserError::new(
                Msg::new("report.bad_phone")
                    .arg("phone", raw)
                    .msg("error", e.msg()),
            )
        })?;
        let (active, fallback) = loaded(config, c, now);
        let tz = super::HtmlContext::of(active.as_ref(), fallback, lang).tz;
        let t = super::contact_timeline(store, c, &number, tz).await?;
        return match args.format {
            Format::Json => plain(json(&t)?),
            Format::Table => plain(t.to_table(lang)),
            _ => Err(said("report.contact_formats")),
        };
    }
    if let (Some(c), true) = (campaign, args.compliance) {
        let (active, fallback) = loaded(config, c, now);
        let ctx = super::HtmlContext::of(active.as_ref(), fallback, lang);
        let r = super::compliance_report(store, c, &ctx).await?;
        let text = match args.format {
            Format::Json => json(&r)?,
            Format::Table => r.to_table(lang),
            _ => return Err(said("report.compliance_formats")),
        };
        plain(text)?;
        return Ok(r.breached());
    }
    if let Some(c) = campaign {
        let (active, fallback) = loaded(config, c, now);
        let ctx = super::HtmlContext::of(active.as_ref(), fallback, lang);
        if args.format == Format::Html {
            return plain(super::html_report(store, c, &ctx, args.contacts, now).await?);
        }
        if args.agents && args.format != Format::Html {
            let report = super::build(store, Some(c), now.timestamp_millis())
                .await?
                .remove(0);
            let agents = report.agents.unwrap_or_default();
            return plain(match args.format {
                Format::Json => json(&agents)?,
                Format::Csv => crate::report::agents::agents_csv(&agents, args.csv_style, lang),
                _ => crate::report::agents::agents_table(&agents, lang),
            });
        }
        if args.contacts {
            super::kind_of(store, c).await?;
            super::stream::write_contacts(store, c, ctx.tz, lang, args.format, args.csv_style, out)
                .await?;
            return Ok(false);
        }
    }
    let reports = super::build(store, campaign, now.timestamp_millis()).await?;
    plain(match args.format {
        Format::Json if campaign.is_some() && reports.len() == 1 => json(&reports[0])?,
        Format::Json => json(&reports)?,
        Format::Csv => super::summary_csv(&reports, args.csv_style),
        Format::Table | Format::Html => reports
            .iter()
            .map(|r| r.to_table(lang))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}
