//! Hashed exclusion lists: SHA-256 digests of E.164 numbers (lowercase hex), written once for
//! both backends. The plain numbers of such a list are never stored.

use super::*;

impl Store {
    /// Adds digests (already checked: 64 lowercase hex characters); returns how many were new.
    pub async fn dnc_hashed_import(
        &self,
        digests: &[String],
        source: &str,
        now: i64,
    ) -> Result<u64> {
        let mut added = 0;
        for chunk in digests.chunks(INSERT_CHUNK) {
            let mut sql = String::from("INSERT INTO dnc_hashed (digest, source, added_at) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3));
            }
            sql.push_str(" ON CONFLICT (digest) DO NOTHING");
            added += with_writer!(self, |db| {
                let mut q = sqlx::query(&sql);
                for d in chunk {
                    q = q.bind(d).bind(source).bind(now);
                }
                q.execute(db).await?.rows_affected()
            });
        }
        Ok(added)
    }

    /// Every digest of the hashed lists.
    pub async fn dnc_hashed_all(&self) -> Result<Vec<String>> {
        Ok(with_reader!(self, |db| sqlx::query_scalar::<_, String>(
            "SELECT digest FROM dnc_hashed ORDER BY digest"
        )
        .fetch_all(db)
        .await?))
    }
}
