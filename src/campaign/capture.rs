//! `[[capture]]`: steps where the callee speaks and `google_voice2text` writes down what they
//! said, stored with the contact under `field`; and the words a promotion listens for.
//!
//! Guarantees: a field name is short, lowercase ASCII (it is a report column and travels in
//! nothing the provider sees); the language is a plain language tag; `silence_seconds` is
//! bounded. Words are compared after `normalise` on both sides.

use serde::Deserialize;

use crate::i18n::Msg;

/// Where the capture steps of a campaign run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureAt {
    /// As soon as the callee answers, before the kind's own message.
    Start,
    /// Just before the transfer to an agent (so the agent knows what the callee wants);
    /// the default for kinds that transfer. A kind without a transfer captures at the end.
    Transfer,
    /// After the kind's last message, before hanging up.
    End,
}

/// One `[[capture]]` step.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSettings {
    /// Spoken before listening.
    pub prompt: String,
    /// The contact's field the transcript is stored under.
    pub field: String,
    /// Language of the speech (`es-ES`, `ca`…); the campaign voice's language when google.
    pub language: String,
    /// Seconds of silence that end the recording.
    pub silence_seconds: u32,
    /// Read the text back and take 1 = correct / 2 = repeat.
    pub confirm: bool,
    pub at: Option<CaptureAt>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CaptureFile {
    prompt: Option<String>,
    field: Option<String>,
    language: Option<String>,
    silence_seconds: Option<u32>,
    #[serde(default)]
    confirm: bool,
    at: Option<CaptureAt>,
}

/// The longest a field name may be.
const MAX_FIELD: usize = 32;
/// Silence that ends a recording: default and bounds, seconds.
const SILENCE: (u32, u32, u32) = (2, 1, 10);

/// A field name: 1–32 of `a-z`, `0-9`, `_`, starting with a letter.
pub fn is_field_name(f: &str) -> bool {
    (1..=MAX_FIELD).contains(&f.len())
        && f.starts_with(|c: char| c.is_ascii_lowercase())
        && f.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A language tag as `google_voice2text` takes it: `es`, `es-ES`, `ca-ES`.
pub fn is_language(l: &str) -> bool {
    (2..=12).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl CaptureFile {
    pub(super) fn settings(self, n: usize, default_language: &str) -> Result<CaptureSettings, Msg> {
        let at = format!("capture[{n}]");
        let prompt = match self.prompt {
            Some(p) if !p.trim().is_empty() => p,
            _ => return Err(Msg::new("rule.capture_prompt").arg("key", format!("{at}.prompt"))),
        };
        let field = self.field.ok_or_else(|| {
            Msg::new("rule.capture_field_missing").arg("key", format!("{at}.field"))
        })?;
        if !is_field_name(&field) {
            return Err(Msg::new("rule.capture_field")
                .arg("key", format!("{at}.field"))
                .arg("max", MAX_FIELD)
                .arg("value", field));
        }
        let language = self
            .language
            .unwrap_or_else(|| default_language.to_string());
        if !is_language(&language) {
            return Err(Msg::new("rule.capture_language")
                .arg("key", format!("{at}.language"))
                .arg("value", language));
        }
        let silence_seconds = self.silence_seconds.unwrap_or(SILENCE.0);
        super::settings::between(
            &format!("{at}.silence_seconds"),
            silence_seconds,
            SILENCE.1,
            SILENCE.2,
        )?;
        Ok(CaptureSettings {
            prompt,
            field,
            language,
            silence_seconds,
            confirm: self.confirm,
            at: self.at,
        })
    }
}

/// Every capture of a campaign; field names must differ.
pub(super) fn captures(
    files: Vec<CaptureFile>,
    default_language: &str,
) -> Result<Vec<CaptureSettings>, Msg> {
    let mut out: Vec<CaptureSettings> = Vec::new();
    for (i, f) in files.into_iter().enumerate() {
        let c = f.settings(i + 1, default_language)?;
        if let Some(j) = out.iter().position(|o| o.field == c.field) {
            return Err(Msg::new("rule.capture_field_taken")
                .arg("key", format!("capture[{}].field", i + 1))
                .arg("value", &c.field)
                .arg("other", format!("capture[{}]", j + 1)));
        }
        out.push(c);
    }
    Ok(out)
}

/// Text as words are compared: lowercase, without accents or punctuation, single spaces.
pub fn normalise(text: &str) -> String {
    let folded: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `text` says one of `words` (each a word or phrase), as whole words.
pub fn says_any(text: &str, words: &[String]) -> bool {
    let t = format!(" {} ", normalise(text));
    words.iter().any(|w| {
        let w = normalise(w);
        !w.is_empty() && t.contains(&format!(" {w} "))
    })
}

/// Checks the words of a promotion (`promotion.interest_words`…): none blank.
pub fn words(key: &str, given: Option<Vec<String>>) -> Result<Vec<String>, Msg> {
    let words = given.unwrap_or_default();
    if let Some(i) = words.iter().position(|w| normalise(w).is_empty()) {
        return Err(Msg::new("rule.words_blank").arg("key", format!("{key}[{}]", i + 1)));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_whole_words_whatever_the_case_and_accents() {
        let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(says_any("Sí, quiero INFORMACIÓN", &w(&["informacion"])));
        assert!(says_any("por favor no me llame más", &w(&["No me llamé"])));
        assert!(!says_any("sincero", &w(&["si"])));
        assert!(says_any("¡Sí!", &w(&["si"])));
        assert!(!says_any("", &w(&["si"])));
        assert_eq!(normalise("  Ñandú;\"x\" 😀 "), "nandu x");
    }

    #[test]
    fn capture_rules_are_said_in_the_reader_s_language() {
        use crate::i18n::Lang;
        let file = |field: &str, silence: u32| CaptureFile {
            prompt: Some("¿Qué necesita?".into()),
            field: Some(field.into()),
            language: None,
            silence_seconds: Some(silence),
            confirm: false,
            at: None,
        };
        let e = captures(vec![file("Motivo", 2)], "es").unwrap_err();
        assert_eq!(
            Lang::Es.render(&e),
            "capture[1].field debe tener de 1 a 32 minúsculas, dígitos o '_', empezando por una letra; es \"Motivo\""
        );
        assert_eq!(
            Lang::En.render(&e),
            "capture[1].field must be 1 to 32 lowercase letters, digits or '_' starting with a letter, got \"Motivo\""
        );
        let e = captures(vec![file("motivo", 2), file("motivo", 2)], "es").unwrap_err();
        assert_eq!(
            Lang::Es.render(&e),
            "capture[2].field \"motivo\" ya es el campo de capture[1]"
        );
        let e = captures(vec![file("motivo", 30)], "es").unwrap_err();
        assert_eq!(
            Lang::En.render(&e),
            "capture[1].silence_seconds must be between 1 and 10, got 30"
        );
        let e = words(
            "promotion.interest_words",
            Some(vec!["sí".into(), "¿?".into()]),
        )
        .unwrap_err();
        assert_eq!(
            Lang::Es.render(&e),
            "promotion.interest_words[2] no tiene letras ni dígitos que escuchar"
        );
    }

    #[test]
    fn field_names_and_languages_are_checked() {
        assert!(is_field_name("motivo"));
        assert!(is_field_name("dato_2"));
        assert!(!is_field_name("Motivo"));
        assert!(!is_field_name("2x"));
        assert!(!is_field_name("a;b"));
        assert!(is_language("es-ES"));
        assert!(!is_language("es;ES"));
    }
}
