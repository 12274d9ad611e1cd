//! `pregonero agent add|list|remove|password`: the desk's agents, in the database.

use crate::config::Config;
use crate::store::Store;

use super::password;
pub use crate::campaign::desk::check_name;

/// An extension of the virtual PBX: 1 to 10 digits.
pub fn check_extension(value: &str) -> anyhow::Result<()> {
    if !(1..=10).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!("--extension must be 1 to 10 digits, got \"{value}\"");
    }
    Ok(())
}

pub async fn add(
    config: &Config,
    name: &str,
    extension: &str,
    team: Option<&str>,
    now: i64,
) -> anyhow::Result<String> {
    check_name("agent name", name)?;
    check_extension(extension)?;
    if let Some(t) = team {
        check_name("team", t)?;
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
        match taken {
            Some(a) if a.name == name => {
                anyhow::bail!("there is already an agent named \"{name}\"")
            }
            Some(a) => anyhow::bail!("extension {extension} belongs to agent \"{}\"", a.name),
            None => anyhow::bail!("agent \"{name}\" was not added"),
        }
    }
    Ok(format!(
        "agent {name} added (extension {extension}{}); set a password with: pregonero agent password {name}\n",
        team.map(|t| format!(", team {t}")).unwrap_or_default()
    ))
}

pub async fn list(config: &Config, now: i64) -> anyhow::Result<String> {
    let store = Store::connect(&config.database.url).await?;
    let agents = store.agents().await;
    store.close().await;
    let agents = agents?;
    if agents.is_empty() {
        return Ok(
            "no agents; add one with: pregonero agent add NAME --extension EXT --team TEAM\n"
                .into(),
        );
    }
    let mut out = format!(
        "{:<20} {:<10} {:<12} {:<10} {}\n",
        "agent", "extension", "team", "state", "since"
    );
    for a in agents {
        let secs = (now - a.state_since).max(0) / 1000;
        let state = match &a.reason {
            Some(r) => format!("{} ({r})", a.state),
            None => a.state.clone(),
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
    Ok(out)
}

pub async fn remove(config: &Config, name: &str) -> anyhow::Result<String> {
    let store = Store::connect(&config.database.url).await?;
    let removed = store.agent_remove(name).await;
    store.close().await;
    if !removed? {
        anyhow::bail!("no agent named \"{name}\"");
    }
    Ok(format!("agent {name} removed\n"))
}

/// Sets the agent's password, read from standard input.
pub async fn set_password(config: &Config, name: &str) -> anyhow::Result<String> {
    let store = Store::connect(&config.database.url).await?;
    let result = async {
        if store.agent(name).await?.is_none() {
            anyhow::bail!("no agent named \"{name}\"");
        }
        let clear = password::read_from_stdin(&format!("password for {name}: "))?;
        password::check_new(&clear).map_err(|e| anyhow::anyhow!("{e}"))?;
        let hash = password::hash(&clear)?;
        store.agent_set_password(name, &hash).await?;
        Ok(format!("password of agent {name} set\n"))
    }
    .await;
    store.close().await;
    result
}
