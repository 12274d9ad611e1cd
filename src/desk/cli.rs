//! `pregonero agent add|list|remove|password`: the desk's agents, in the database. What it
//! prints and its errors are in `[ui] language`, from the catalogue; states are shown by their
//! label (`agent_state.*`).

use crate::config::Config;
use crate::i18n::{Lang, Msg, UserError};
use crate::store::Store;

use super::password;
pub use crate::campaign::desk::{check_name, valid_name};

/// A name or a team typed on the command line: `key` is the catalogue's sentence for it.
fn check_arg(key: &str, value: &str) -> Result<(), UserError> {
    if valid_name(value) {
        Ok(())
    } else {
        Err(UserError::new(Msg::new(key).arg("value", value)))
    }
}

/// An extension of the virtual PBX: 1 to 10 digits.
pub fn check_extension(value: &str) -> Result<(), UserError> {
    if !(1..=10).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UserError::new(
            Msg::new("agents.bad_extension").arg("value", value),
        ));
    }
    Ok(())
}

fn fail(m: Msg) -> anyhow::Error {
    UserError::new(m).into()
}

pub async fn add(
    config: &Config,
    name: &str,
    extension: &str,
    team: Option<&str>,
    now: i64,
) -> anyhow::Result<String> {
    let lang = config.ui.language;
    check_arg("agents.bad_name", name)?;
    check_extension(extension)?;
    if let Some(t) = team {
        check_arg("agents.bad_team", t)?;
    }
    let store = Store::connect(&config.database.url).await?;
    let added = store
        .agent_add(name, extension, team.unwrap_or(""), now)
        .await;
    let existing = store.agents().await;
    store.close().await;
    if !added? {
        let taken = existing?
            .into_iter()
            .find(|a| a.name == name || a.extension == extension);
        return Err(match taken {
            Some(a) if a.name == name => fail(Msg::new("agents.name_taken").arg("name", name)),
            Some(a) => fail(
                Msg::new("agents.extension_taken")
                    .arg("extension", extension)
                    .arg("agent", &a.name),
            ),
            None => fail(Msg::new("agents.not_added").arg("name", name)),
        });
    }
    Ok(added_text(lang, name, extension, team))
}

/// What `agent add` says once the agent is stored.
fn added_text(lang: Lang, name: &str, extension: &str, team: Option<&str>) -> String {
    let team = team
        .map(|t| lang.fill("agents.with_team", &[("team", &t)]))
        .unwrap_or_default();
    format!(
        "{}\n",
        lang.fill(
            "agents.added",
            &[("name", &name), ("extension", &extension), ("team", &team)]
        )
    )
}

pub async fn list(config: &Config, now: i64) -> anyhow::Result<String> {
    let store = Store::connect(&config.database.url).await?;
    let agents = store.agents().await;
    store.close().await;
    Ok(table(config.ui.language, &agents?, now))
}

/// The agents, one a line: name, extension, team, state (its label, and the pause reason) and
/// the time in it.
fn table(lang: Lang, agents: &[crate::store::Agent], now: i64) -> String {
    if agents.is_empty() {
        return format!("{}\n", lang.text("agents.none"));
    }
    let t = |k: &str| lang.text(k).to_string();
    let mut out = format!(
        "{:<20} {:<10} {:<12} {:<10} {}\n",
        t("agents.agent"),
        t("agents.extension"),
        t("agents.team"),
        t("agents.state"),
        t("agents.since")
    );
    for a in agents {
        let secs = (now - a.state_since).max(0) / 1000;
        let label = lang.text(&format!("agent_state.{}", a.state)).to_string();
        // An identifier the catalogue does not know is shown as it is.
        let label = if label.starts_with("agent_state.") {
            a.state.clone()
        } else {
            label
        };
        let state = match &a.reason {
            Some(r) => format!("{label} ({r})"),
            None => label,
        };
        out.push_str(&format!(
            "{:<20} {:<10} {:<12} {:<10} {}\n",
            a.name,
            a.extension,
            if a.team.is_empty() { "-" } else { &a.team },
            state,
            super::duration(secs)
        ));
    }
    out
}

pub async fn remove(config: &Config, name: &str) -> anyhow::Result<String> {
    let store = Store::connect(&config.database.url).await?;
    let removed = store.agent_remove(name).await;
    store.close().await;
    if !removed? {
        return Err(fail(Msg::new("agents.no_such").arg("name", name)));
    }
    Ok(format!(
        "{}\n",
        config
            .ui
            .language
            .fill("agents.removed", &[("name", &name)])
    ))
}

/// Sets the agent's password, read from standard input.
pub async fn set_password(config: &Config, name: &str) -> anyhow::Result<String> {
    let store = Store::connect(&config.database.url).await?;
    let lang = config.ui.language;
    let result = async {
        if store.agent(name).await?.is_none() {
            return Err(fail(Msg::new("agents.no_such").arg("name", name)));
        }
        let clear =
            password::read_from_stdin(&lang.fill("agents.password_prompt", &[("name", &name)]))?;
        password::check_new(&clear).map_err(UserError::new)?;
        let hash = password::hash(&clear)?;
        store.agent_set_password(name, &hash).await?;
        Ok(format!(
            "{}\n",
            lang.fill("agents.password_set", &[("name", &name)])
        ))
    }
    .await;
    store.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str, state: &str, reason: Option<&str>) -> crate::store::Agent {
        crate::store::Agent {
            name: name.into(),
            extension: "201".into(),
            team: "ventas".into(),
            state: state.into(),
            reason: reason.map(String::from),
            state_since: 0,
            attempt_id: None,
            wrapup_until: None,
            last_seen: None,
        }
    }

    #[test]
    fn agent_output_is_spanish_by_default_and_english_with_en() {
        assert_eq!(
            added_text(Lang::Es, "marta", "201", Some("ventas")),
            "agente marta añadido (extensión 201, equipo ventas); póngale una contraseña con: pregonero agent password marta\n"
        );
        assert_eq!(
            added_text(Lang::En, "marta", "201", None),
            "agent marta added (extension 201); set a password with: pregonero agent password marta\n"
        );
        let agents = [
            agent("marta", "paused", Some("café")),
            agent("luis", "ready", None),
        ];
        let es = table(Lang::Es, &agents, 65_000);
        assert!(es.starts_with("agente "), "{es}");
        assert!(es.contains("desde hace"), "{es}");
        assert!(
            es.contains("en pausa (café)") && es.contains("disponible"),
            "{es}"
        );
        assert!(es.contains("1m 05s"), "{es}");
        let en = table(Lang::En, &agents, 65_000);
        assert!(en.starts_with("agent ") && en.contains("since"), "{en}");
        assert!(en.contains("paused (café)") && en.contains("ready"), "{en}");
        assert!(table(Lang::Es, &[], 0).starts_with("no hay agentes"));
        let e = anyhow::Error::new(check_extension("12a").unwrap_err());
        assert_eq!(
            Lang::Es.error_line(&e),
            "--extension debe tener de 1 a 10 dígitos; es \"12a\""
        );
        assert_eq!(
            Lang::En.error_line(&e),
            "--extension must be 1 to 10 digits, got \"12a\""
        );
    }
}
