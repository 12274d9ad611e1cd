//! The desk's top-level keys of campaign.toml: `script`, `dispositions`, `wrapup_seconds`.
//! They serve every transfer to a desk team (sales, promotion, reminder's agent key).

use serde::{Deserialize, Serialize};

use crate::i18n::Msg;

/// Default wrap-up after a call, seconds.
pub const DEFAULT_WRAPUP_SECONDS: u32 = 30;

/// The dispositions a campaign offers when it names none.
pub const DEFAULT_DISPOSITIONS: [&str; 3] = ["venta", "no interesado", "volver a llamar"];

/// One disposition an agent can record; a callback one takes a date and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disposition {
    pub name: String,
    pub callback: bool,
}

/// As written in campaign.toml: a name (`"volver a llamar"` and `"callback"` are callbacks),
/// or `{ name = "…", callback = true }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DispositionFile {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        callback: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskSettings {
    /// What the agent reads to the callee, `{column}` filled from the contact's CSV columns.
    pub script: Option<String>,
    pub dispositions: Vec<Disposition>,
    pub wrapup_seconds: u32,
}

impl Default for DeskSettings {
    fn default() -> Self {
        DeskSettings {
            script: None,
            dispositions: DEFAULT_DISPOSITIONS
                .iter()
                .map(|n| Disposition {
                    name: n.to_string(),
                    callback: is_callback_name(n),
                })
                .collect(),
            wrapup_seconds: DEFAULT_WRAPUP_SECONDS,
        }
    }
}

fn is_callback_name(name: &str) -> bool {
    let n = name.trim().to_lowercase();
    n == "volver a llamar" || n == "callback"
}

impl DeskSettings {
    /// Validates the keys; the error is one sentence naming the key.
    pub fn build(
        script: Option<String>,
        dispositions: Option<Vec<DispositionFile>>,
        wrapup_seconds: Option<u32>,
    ) -> Result<DeskSettings, Msg> {
        let mut out = DeskSettings {
            script: script.filter(|s| !s.trim().is_empty()),
            ..DeskSettings::default()
        };
        if let Some(w) = wrapup_seconds {
            if w > 3600 {
                return Err(Msg::new("rule.at_most")
                    .arg("key", "wrapup_seconds")
                    .arg("max", 3600)
                    .arg("value", w));
            }
            out.wrapup_seconds = w;
        }
        if let Some(list) = dispositions {
            if list.is_empty() {
                return Err(Msg::new("rule.dispositions_empty"));
            }
            let mut seen = Vec::new();
            out.dispositions.clear();
            for d in list {
                let (name, callback) = match d {
                    DispositionFile::Name(n) => {
                        let callback = is_callback_name(&n);
                        (n, callback)
                    }
                    DispositionFile::Full { name, callback } => (name, callback),
                };
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > 64 {
                    return Err(Msg::new("rule.disposition_name"));
                }
                if seen.contains(&name.to_lowercase()) {
                    return Err(Msg::new("rule.disposition_twice").arg("name", name));
                }
                seen.push(name.to_lowercase());
                out.dispositions.push(Disposition { name, callback });
            }
        }
        Ok(out)
    }

    /// The disposition of that name (case as configured), if the campaign offers it.
    pub fn find(&self, name: &str) -> Option<&Disposition> {
        let n = name.trim().to_lowercase();
        self.dispositions
            .iter()
            .find(|d| d.name.to_lowercase() == n)
    }

    /// The script with `{column}` filled from the contact's columns (unknown ones kept as
    /// written).
    pub fn render_script(
        &self,
        vars: &std::collections::BTreeMap<String, String>,
        name: &str,
    ) -> Option<String> {
        let text = self.script.as_ref()?;
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let key = after[..close].trim().to_lowercase();
                    let value = vars
                        .get(&key)
                        .map(String::as_str)
                        .or((key == "nombre" || key == "name").then_some(name));
                    match value {
                        Some(v) => out.push_str(v),
                        None => out.push_str(&rest[open..open + close + 2]),
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        Some(out)
    }
}

/// A name or a team: letters, digits, `.`, `_`, `-`; 1 to 64 characters.
/// Whether a name or a team is letters, digits, `.`, `_`, `-`; 1 to 64 characters.
pub fn valid_name(value: &str) -> bool {
    (1..=64).contains(&value.chars().count())
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A name or a team (`desk:TEAM` in `campaign.toml`): `key` is the catalogue's sentence for
/// it, filled with the value.
pub fn check_name(key: &str, value: &str) -> Result<(), Msg> {
    if !valid_name(value) {
        return Err(Msg::new(key).arg("value", value));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_default_mark_callbacks_and_refuse_bad_input() {
        let d = DeskSettings::build(None, None, None).unwrap();
        assert_eq!(d.wrapup_seconds, 30);
        assert!(d.find("Volver a llamar").unwrap().callback);
        assert!(!d.find("venta").unwrap().callback);
        let d = DeskSettings::build(
            Some("Hola {nombre}, su plan {plan} {x}".into()),
            Some(vec![
                DispositionFile::Name("venta".into()),
                DispositionFile::Full {
                    name: "llamar luego".into(),
                    callback: true,
                },
            ]),
            Some(10),
        )
        .unwrap();
        assert!(d.find("llamar luego").unwrap().callback);
        assert_eq!(d.find("volver a llamar"), None);
        let vars = [("plan".to_string(), "Fibra 1G".to_string())].into();
        assert_eq!(
            d.render_script(&vars, "Ana").unwrap(),
            "Hola Ana, su plan Fibra 1G {x}"
        );
        assert!(DeskSettings::build(None, Some(vec![]), None).is_err());
        let wrapup = DeskSettings::build(None, None, Some(7200)).unwrap_err();
        assert_eq!(
            crate::i18n::Lang::En.render(&wrapup),
            "wrapup_seconds must be at most 3600, got 7200"
        );
        assert_eq!(
            crate::i18n::Lang::Es.render(&wrapup),
            "wrapup_seconds debe ser como mucho 3600; es 7200"
        );
        let twice = vec![
            DispositionFile::Name("venta".into()),
            DispositionFile::Name("Venta".into()),
        ];
        let e = DeskSettings::build(None, Some(twice), None).unwrap_err();
        assert!(crate::i18n::Lang::En.render(&e).contains("twice"));
    }

    #[test]
    fn a_desk_team_name_is_checked_in_the_reader_s_language() {
        let e = check_name("rule.target_desk", "ventas norte").unwrap_err();
        assert!(crate::i18n::Lang::Es
            .render(&e)
            .starts_with("debe nombrar un equipo"));
        assert!(crate::i18n::Lang::En
            .render(&e)
            .starts_with("must name a desk team"));
        assert!(check_name("rule.target_desk", "ventas-norte").is_ok());
    }
}
