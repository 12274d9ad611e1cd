//! `report --contacts` written as it is read: the contacts come from the store as a stream, in
//! batches of [`BATCH`] with their survey answers, transcripts and dispositions read for that
//! batch's range of ids, and each batch is written out before the next is read. Memory stays
//! flat whatever the campaign's size (a batch, the columns, the writer's buffer).
//!
//! The terminal table aligns its columns, so it reads the contacts twice (widths, then lines)
//! rather than hold them. The HTML report shows the first [`HTML_CONTACTS`] contacts and says
//! so; its summary and charts count every contact.

use std::io::Write;

use chrono_tz::Tz;
use futures_util::TryStreamExt;

use super::cli::Format;
use super::contacts::{aligned, widen, widths_of, Columns, ContactTable};
use super::csv::{self, CsvStyle};
use super::ReportError;
use crate::i18n::Lang;
use crate::report::agents::{apply_dispositions, DISPOSITION_COLUMNS};
use crate::store::Store;

/// Contacts read and written at a time.
pub const BATCH: usize = 1000;

/// The most contacts the HTML report's table shows (the CSV has them all).
pub const HTML_CONTACTS: usize = 1000;

/// The columns of a campaign's contact report, read before the first contact.
pub async fn columns(store: &Store, campaign: &str) -> Result<Columns, ReportError> {
    let whole_table = store.reads_whole_table(campaign).await?;
    let mut extra = store.contact_columns(campaign, whole_table).await?;
    let dispositions = store.has_dispositions(campaign).await?;
    if dispositions {
        for c in DISPOSITION_COLUMNS {
            if !extra.iter().any(|e| e == c) {
                extra.push(c.to_string());
            }
        }
    }
    Ok(Columns {
        extra,
        questions: store.survey_questions(campaign).await?,
        captured: store.capture_fields(campaign).await?,
        dispositions,
        whole_table,
    })
}

/// Reads the campaign's contacts (the first `limit` when given) in batches, puts each batch
/// with what hangs off it in `table`, and hands the table to `each`.
pub async fn each_batch(
    store: &Store,
    campaign: &str,
    table: &mut ContactTable,
    columns: &Columns,
    limit: Option<usize>,
    mut each: impl FnMut(&ContactTable) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let size = limit.map_or(BATCH, |l| l.clamp(1, BATCH));
    let mut rows = store.contact_report_stream(campaign, columns.whole_table);
    let mut batch = Vec::with_capacity(size);
    let mut seen = 0usize;
    loop {
        let next = if limit.is_some_and(|l| seen >= l) {
            None
        } else {
            rows.try_next().await?
        };
        let done = next.is_none();
        if let Some(r) = next {
            batch.push(r);
            seen += 1;
        }
        if batch.len() == size || (done && !batch.is_empty()) {
            let (lo, hi) = (batch[0].contact_id, batch[batch.len() - 1].contact_id);
            let answers = if columns.questions.is_empty() {
                Vec::new()
            } else {
                store.contact_answers_between(campaign, lo, hi).await?
            };
            let captures = if columns.captured.is_empty() {
                Vec::new()
            } else {
                store.captures_between(campaign, lo, hi).await?
            };
            if columns.dispositions {
                apply_dispositions(
                    &mut batch,
                    store.dispositions_between(campaign, lo, hi).await?,
                );
            }
            table.set_batch(std::mem::take(&mut batch), answers, captures);
            each(table)?;
            batch = std::mem::take(&mut table.rows);
            batch.clear();
        }
        if done {
            return Ok(());
        }
    }
}

/// The campaign's contacts in one table (the first `limit` when given): the HTML report's
/// table, small campaigns, tests.
pub async fn load(
    store: &Store,
    campaign: &str,
    tz: Tz,
    lang: Lang,
    limit: Option<usize>,
) -> Result<ContactTable, ReportError> {
    let columns = columns(store, campaign).await?;
    let mut table = ContactTable::with_columns(tz, lang, &columns);
    let mut all = ContactTable::with_columns(tz, lang, &columns);
    each_batch(store, campaign, &mut table, &columns, limit, |t| {
        all.rows.extend(t.rows.iter().cloned());
        all.answers
            .extend(t.answers.iter().map(|(k, v)| (*k, v.clone())));
        all.said.extend(t.said.iter().map(|(k, v)| (*k, v.clone())));
        Ok(())
    })
    .await?;
    Ok(all)
}

/// Writes `report --contacts` in `format` (not HTML) to `out` as the contacts are read.
pub async fn write_contacts(
    store: &Store,
    campaign: &str,
    tz: Tz,
    lang: Lang,
    format: Format,
    style: CsvStyle,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let columns = columns(store, campaign).await?;
    let mut table = ContactTable::with_columns(tz, lang, &columns);
    match format {
        Format::Csv => {
            let people = (style == CsvStyle::Excel).then_some(lang);
            let mut w = csv::Writer::new(style, &mut *out)?;
            w.header(&table.header(people))?;
            each_batch(store, campaign, &mut table, &columns, None, |t| {
                for r in &t.rows {
                    w.row(&t.cells(r, people))?;
                }
                Ok(())
            })
            .await?;
            w.finish()?;
        }
        Format::Json => {
            let mut first = true;
            out.write_all(b"[")?;
            each_batch(store, campaign, &mut table, &columns, None, |t| {
                for r in &t.rows {
                    out.write_all(if first { b"\n" } else { b",\n" })?;
                    first = false;
                    serde_json::to_writer(&mut *out, &t.row_json(r))
                        .map_err(std::io::Error::from)?;
                }
                Ok(())
            })
            .await?;
            out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
        }
        Format::Table | Format::Html => {
            let header = table.table_header();
            let mut widths = widths_of(&header);
            each_batch(store, campaign, &mut table, &columns, None, |t| {
                for r in &t.rows {
                    widen(&mut widths, &t.table_cells(r));
                }
                Ok(())
            })
            .await?;
            out.write_all(aligned(&header, &widths).as_bytes())?;
            each_batch(store, campaign, &mut table, &columns, None, |t| {
                for r in &t.rows {
                    out.write_all(aligned(&t.table_cells(r), &widths).as_bytes())?;
                }
                Ok(())
            })
            .await?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{launch_all, CallEvent, ContactRecord, FileImport, Progress};
    use crate::testing::TestDb;

    crate::testing::on_both_backends!("report::stream"; every_format_streams_what_the_table_in_memory_holds);

    const T0: i64 = 1_780_000_000_000;
    /// More than two batches, so answers are read for several ranges of ids.
    const N: usize = 2 * BATCH + 345;

    async fn survey(db: &TestDb) -> Store {
        let store = Store::connect(&db.url).await.expect("connect");
        store
            .upsert_campaign("enc", "survey", "Encuesta", "", T0)
            .await
            .unwrap();
        let contacts: Vec<ContactRecord> = (0..N)
            .map(|i| ContactRecord {
                phone: format!("+346003{i:05}"),
                name: if i == 7 {
                    "=HYPERLINK(\"x\")".into()
                } else {
                    format!("Cliente {i}")
                },
                vars: format!("{{\"barrio\":\"b{i}\"}}"),
                timezone: None,
                appointment_at: None,
            })
            .collect();
        let f = FileImport {
            file_name: "lista.csv".into(),
            hash: "h".into(),
            rows_read: N as u64,
            rejected: 0,
            duplicates: 0,
            expected_rows: N as u64,
        };
        store
            .import_contacts("enc", &f, &contacts, T0)
            .await
            .unwrap();
        let mut claims = Vec::new();
        for _ in 0..3 {
            claims.extend(store.claim_due("enc", T0, 1000, &launch_all).await.unwrap());
        }
        // Every seventh contact answers, in every batch.
        for c in claims.iter().step_by(7) {
            let event = CallEvent {
                attempt_id: Some(c.attempt_id),
                provider_call_id: Some(format!("call.{}", c.attempt_id)),
                kind: "result".into(),
                command: Some("speak_getdtmf".into()),
                dtmf: Some("4".into()),
                statuscall: Some("ANSWER".into()),
                fields: "{}".into(),
                received_at: T0 + 10,
            };
            let progress = Progress {
                answered: true,
                outcome: None,
                dtmf: Some("4".into()),
                answers: vec![("q1".into(), format!("{}", c.contact_id % 5))],
            };
            store.record_event(&event, Some(&progress)).await.unwrap();
        }
        store
    }

    async fn write(store: &Store, format: Format, style: CsvStyle) -> String {
        let mut out = Vec::new();
        write_contacts(
            store,
            "enc",
            chrono_tz::Europe::Madrid,
            Lang::Es,
            format,
            style,
            &mut out,
        )
        .await
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    async fn every_format_streams_what_the_table_in_memory_holds(db: &TestDb) {
        let store = survey(db).await;
        let all = load(&store, "enc", chrono_tz::Europe::Madrid, Lang::Es, None)
            .await
            .unwrap();
        assert_eq!(all.rows.len(), N);
        assert_eq!(all.questions, vec!["q1"]);
        assert_eq!(all.answers.len(), N.div_ceil(7));
        for style in [CsvStyle::Standard, CsvStyle::Excel] {
            assert_eq!(write(&store, Format::Csv, style).await, all.to_csv(style));
        }
        let excel = write(&store, Format::Csv, CsvStyle::Excel).await;
        assert!(
            excel.contains(";\"'=HYPERLINK(\"\"x\"\")\";"),
            "a formula stays text"
        );
        let json: serde_json::Value =
            serde_json::from_str(&write(&store, Format::Json, CsvStyle::Excel).await).unwrap();
        assert_eq!(json, all.to_json());
        assert_eq!(
            write(&store, Format::Table, CsvStyle::Excel).await,
            all.to_table()
        );
        // The HTML's table: the first contacts only.
        let first = load(&store, "enc", chrono_tz::UTC, Lang::Es, Some(HTML_CONTACTS))
            .await
            .unwrap();
        assert_eq!(first.rows.len(), HTML_CONTACTS);
        assert_eq!(first.rows[..], all.rows[..HTML_CONTACTS]);
        // An empty campaign: a heading, an empty array.
        store
            .upsert_campaign("vacia", "survey", "", "", T0)
            .await
            .unwrap();
        let mut out = Vec::new();
        write_contacts(
            &store,
            "vacia",
            chrono_tz::UTC,
            Lang::Es,
            Format::Json,
            CsvStyle::Excel,
            &mut out,
        )
        .await
        .unwrap();
        assert_eq!(out, b"[]\n");
    }
}
