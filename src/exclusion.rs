//! Hashed exclusion lists (`pregonero dnc import FILE --hashed`): advertising-exclusion lists
//! are distributed as SHA-256 digests of E.164 numbers, one lowercase or uppercase hex digest a
//! line. They are stored as digests and matched by hashing the number about to be called, so
//! the list's plain numbers are never known.
//!
//! Guarantees: a file with a line that is not a digest is refused whole, naming the line; a
//! number matches whether the list hashed it with or without its leading `+`; the dialer's
//! copy of the list is read again at most every `REFRESH_MS` (and at once after an import in
//! this process).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::store::{Result, Store};

/// How often the dialer reads the hashed lists again, ms.
pub const REFRESH_MS: i64 = 60_000;

/// The digests of a hashed list file, lowercase; one sentence naming the file and line when a
/// line is not a SHA-256 hex digest. Blank lines and `#` comments are skipped.
pub fn read_hashed(path: &Path) -> std::result::Result<Vec<String>, crate::i18n::Msg> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::i18n::Msg::read_error(path, &e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim().trim_start_matches('\u{feff}');
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(crate::i18n::Msg::new("dnc.not_a_digest")
                .arg("file", path.display())
                .arg("line", i + 1)
                .arg("chars", t.chars().count()));
        }
        out.push(t.to_ascii_lowercase());
    }
    Ok(out)
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn parse_hex(d: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(d.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The digests a number may be listed under: of `+34…` and of `34…`.
pub fn digests_of(e164: &str) -> [[u8; 32]; 2] {
    let bare = e164.trim_start_matches('+');
    [digest(&format!("+{bare}")), digest(bare)]
}

/// The digests of the hashed lists, as bytes.
pub type Digests = Arc<HashSet<[u8; 32]>>;

/// The hashed lists as the dialer checks them.
#[derive(Debug, Default)]
pub struct HashedList {
    /// When the lists were read, and what they held.
    cached: Mutex<Option<(i64, Digests)>>,
}

impl HashedList {
    /// The lists, read from the store when older than `REFRESH_MS`.
    pub async fn current(&self, store: &Store, now: i64) -> Result<Digests> {
        if let Some((at, set)) = &*self.cached.lock().unwrap_or_else(|e| e.into_inner()) {
            if now - at < REFRESH_MS && now >= *at {
                return Ok(set.clone());
            }
        }
        let set: HashSet<[u8; 32]> = store
            .dnc_hashed_all()
            .await?
            .iter()
            .filter_map(|d| parse_hex(d))
            .collect();
        let set = Arc::new(set);
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, set.clone()));
        Ok(set)
    }

    /// Whether `e164` is on the lists.
    pub fn blocks(set: &HashSet<[u8; 32]>, e164: &str) -> bool {
        !set.is_empty() && digests_of(e164).iter().any(|d| set.contains(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_matches_its_digest_with_or_without_the_plus() {
        let with_plus = format!("{:x}", Sha256::digest(b"+34600000001"));
        let bare = format!("{:x}", Sha256::digest(b"34600000002"));
        let set: HashSet<[u8; 32]> = [&with_plus, &bare]
            .iter()
            .filter_map(|d| parse_hex(d))
            .collect();
        assert!(HashedList::blocks(&set, "+34600000001"));
        assert!(HashedList::blocks(&set, "+34600000002"));
        assert!(!HashedList::blocks(&set, "+34600000003"));
    }

    #[test]
    fn a_file_with_a_line_that_is_not_a_digest_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("lista.sha256");
        let d = format!("{:X}", Sha256::digest(b"+34600000001"));
        std::fs::write(&good, format!("# Lista Robinson\n{d}\n\n")).unwrap();
        assert_eq!(read_hashed(&good).unwrap(), vec![d.to_ascii_lowercase()]);
        let bad = dir.path().join("plano.txt");
        std::fs::write(&bad, format!("{d}\n+34600000001\n")).unwrap();
        let e = crate::i18n::Lang::En.render(&read_hashed(&bad).unwrap_err());
        assert!(
            e.ends_with("line 2: expected a SHA-256 digest (64 hex characters), got 12 characters"),
            "{e}"
        );
        assert!(!e.contains("600000001"), "the number is not echoed: {e}");
    }
}
