//! `report CAMPAIGN --contacts`: one row per contact with its state, attempts, last result, keys,
//! last call, talk time, cost, a column per survey question (the key pressed, for surveys) and
//! the original CSV columns (from the contact's `vars`).
//!
//! What people read (the table, the HTML, the excel-style CSV) has headings, states and results
//! in the `[ui] language` and dates as people write them; what scripts read (JSON, the standard
//! CSV) keeps the identifiers and ISO times.

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use super::csv::{self, Cell, CsvStyle};
use super::svg::escape;
use crate::i18n::Lang;
use crate::store::{CaptureRow, ContactReportRow};

/// The fixed columns, in order; the CSV columns follow.
pub const FIXED: [&str; 9] = [
    "phone",
    "name",
    "state",
    "attempts",
    "last_result",
    "dtmf",
    "last_call_at",
    "talk_seconds",
    "cost",
];

/// The contacts of a campaign ready to print, times in the campaign's zone.
pub struct ContactTable {
    pub tz: Tz,
    /// The language of the people's formats.
    pub lang: Lang,
    pub rows: Vec<ContactReportRow>,
    /// The CSV columns seen in any contact, first seen first (column names as in the file).
    pub extra: Vec<String>,
    /// Survey questions answered by any contact, first answered first (the survey's order).
    pub questions: Vec<String>,
    /// Each contact's last key per question.
    pub answers: std::collections::HashMap<i64, std::collections::BTreeMap<String, String>>,
    /// The capture fields (`[[capture]]`), one column each after the CSV columns.
    pub captured: Vec<String>,
    /// What each contact said, by contact id and field: (status, text).
    pub said: std::collections::HashMap<i64, std::collections::BTreeMap<String, (String, String)>>,
}

impl ContactTable {
    pub fn new(tz: Tz, rows: Vec<ContactReportRow>) -> ContactTable {
        let mut extra: Vec<String> = Vec::new();
        for r in &rows {
            for k in r.vars.keys() {
                if !extra.contains(k) {
                    extra.push(k.clone());
                }
            }
        }
        ContactTable {
            tz,
            lang: Lang::default(),
            rows,
            extra,
            questions: Vec::new(),
            answers: Default::default(),
            captured: Vec::new(),
            said: Default::default(),
        }
    }

    /// Adds the contacts' transcripts, a column per field.
    pub fn with_captures(mut self, captures: Vec<CaptureRow>) -> ContactTable {
        for c in captures {
            if !self.captured.contains(&c.field) {
                self.captured.push(c.field.clone());
            }
            self.said
                .entry(c.contact_id)
                .or_default()
                .insert(c.field, (c.status, c.text));
        }
        self.captured.sort();
        self
    }

    /// A capture's column name: the field, prefixed `capture_` when a column has that name.
    fn capture_header(&self, field: &str) -> String {
        if FIXED.contains(&field)
            || self.extra.iter().any(|e| e == field)
            || self.questions.iter().any(|q| q == field)
        {
            format!("capture_{field}")
        } else {
            field.to_string()
        }
    }

    /// What a contact said for `field`, as a cell: the text, or empty.
    fn said_cell(&self, r: &ContactReportRow, field: &str) -> Cell<'_> {
        match self.said.get(&r.contact_id).and_then(|f| f.get(field)) {
            Some((status, text)) if status == "ok" => Cell::Str(text),
            _ => Cell::Empty,
        }
    }

    /// Adds the survey answers, (contact id, question, key) oldest first: a column per question.
    pub fn with_answers(mut self, answers: Vec<(i64, String, String)>) -> ContactTable {
        for (contact, question, key) in answers {
            if !self.questions.contains(&question) {
                self.questions.push(question.clone());
            }
            self.answers
                .entry(contact)
                .or_default()
                .insert(question, key);
        }
        self
    }

    /// The same table for people reading `lang`.
    pub fn with_lang(mut self, lang: Lang) -> ContactTable {
        self.lang = lang;
        self
    }

    /// Column names (translated for people when `lang` is given); a CSV column named like a
    /// fixed one is prefixed `csv_`.
    pub fn header(&self, lang: Option<Lang>) -> Vec<String> {
        let mut h: Vec<String> = FIXED
            .iter()
            .map(|s| match lang {
                Some(l) => l.text(&format!("col.{s}")).to_string(),
                None => s.to_string(),
            })
            .collect();
        h.extend(self.questions.iter().cloned());
        for k in &self.extra {
            h.push(
                if FIXED.contains(&k.as_str()) || self.questions.contains(k) {
                    format!("csv_{k}")
                } else {
                    k.clone()
                },
            );
        }
        for f in &self.captured {
            h.push(self.capture_header(f));
        }
        h
    }

    fn when(&self, ms: Option<i64>, lang: Option<Lang>) -> String {
        ms.and_then(|m| Utc.timestamp_millis_opt(m).single())
            .map(|t| {
                let t = t.with_timezone(&self.tz);
                match lang {
                    Some(l) => l.datetime(&t),
                    None => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                }
            })
            .unwrap_or_default()
    }

    /// A row's cells: identifiers when `lang` is `None`, labels for people otherwise.
    pub(crate) fn cells<'r>(
        &'r self,
        r: &'r ContactReportRow,
        lang: Option<Lang>,
    ) -> Vec<Cell<'r>> {
        let label = |id: &'r str| match lang {
            Some(l) => l.label(id),
            None => id,
        };
        let mut c = Vec::with_capacity(
            FIXED.len() + self.questions.len() + self.extra.len() + self.captured.len(),
        );
        c.extend([
            Cell::Str(&r.phone),
            Cell::Str(&r.name),
            Cell::Str(label(&r.state)),
            Cell::Int(r.attempts),
            match &r.last_result {
                Some(s) => Cell::Str(label(s)),
                None => Cell::Empty,
            },
            match &r.dtmf {
                Some(s) => Cell::Str(s),
                None => Cell::Empty,
            },
            match r.last_call_at {
                Some(_) => Cell::Text(self.when(r.last_call_at, lang)),
                None => Cell::Empty,
            },
            Cell::Int(r.talk_seconds),
            Cell::Decimal(r.cost, 4),
        ]);
        let answers = self.answers.get(&r.contact_id);
        for q in &self.questions {
            c.push(match answers.and_then(|a| a.get(q)) {
                Some(key) => Cell::Str(key),
                None => Cell::Empty,
            });
        }
        for k in &self.extra {
            c.push(match r.vars.get(k) {
                Some(v) => Cell::Str(v),
                None => Cell::Empty,
            });
        }
        for f in &self.captured {
            c.push(self.said_cell(r, f));
        }
        c
    }

    /// Excel style is for people (labels, their dates); standard style for scripts.
    pub fn to_csv(&self, style: CsvStyle) -> String {
        let lang = (style == CsvStyle::Excel).then_some(self.lang);
        let rows: Vec<Vec<Cell>> = self.rows.iter().map(|r| self.cells(r, lang)).collect();
        csv::write(style, &self.header(lang), &rows)
    }

    /// One JSON object per contact; `last_call_at` is RFC 3339 with the zone's offset, the CSV
    /// columns are under `vars`.
    pub fn to_json(&self) -> Value {
        Value::Array(self.rows.iter().map(|r| self.row_json(r)).collect())
    }

    /// One contact's JSON object (see [`ContactTable::to_json`]).
    pub fn row_json(&self, r: &ContactReportRow) -> Value {
        let last = r
            .last_call_at
            .and_then(|m| Utc.timestamp_millis_opt(m).single())
            .map(|t| t.with_timezone(&self.tz).to_rfc3339());
        let vars: Map<String, Value> = r
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut row = json!({
            "phone": r.phone, "name": r.name, "state": r.state,
            "attempts": r.attempts, "last_result": r.last_result, "dtmf": r.dtmf,
            "last_call_at": last, "talk_seconds": r.talk_seconds,
            "cost": (r.cost * 10_000.0).round() / 10_000.0, "vars": vars,
        });
        // Surveys: the key per question (other kinds keep their shape).
        if !self.questions.is_empty() {
            row["answers"] = json!(self.answers.get(&r.contact_id).cloned().unwrap_or_default());
        }
        let captures: Map<String, Value> = self
            .said
            .get(&r.contact_id)
            .into_iter()
            .flatten()
            .map(|(f, (status, text))| (f.clone(), json!({"status": status, "text": text})))
            .collect();
        row["captures"] = Value::Object(captures);
        row
    }

    /// The terminal table's heading: the fixed columns and the captures (CSV columns are in
    /// csv/json).
    pub fn table_header(&self) -> Vec<String> {
        let mut header: Vec<String> = self
            .header(Some(self.lang))
            .into_iter()
            .take(FIXED.len())
            .collect();
        header.extend(self.captured.iter().map(|f| self.capture_header(f)));
        header
    }

    /// A contact's cells in the terminal table; a transcript is shown on one line, cut to 60
    /// characters.
    pub fn table_cells(&self, r: &ContactReportRow) -> Vec<String> {
        let text = |c: Cell| match c {
            Cell::Text(s) => s,
            Cell::Str(s) => s.to_string(),
            Cell::Int(n) => n.to_string(),
            Cell::Decimal(v, d) => self.lang.decimal(v, d),
            Cell::Empty => "-".into(),
        };
        let said = self.captured.iter().map(|f| match self.said_cell(r, f) {
            Cell::Str(t) => {
                let line = crate::flow::spoken(t);
                match line.char_indices().nth(60) {
                    Some((i, _)) => format!("{}…", &line[..i]),
                    None => line,
                }
            }
            other => text(other),
        });
        self.cells(r, Some(self.lang))
            .into_iter()
            .take(FIXED.len())
            .map(text)
            .chain(said)
            .collect()
    }

    /// Aligned columns for a terminal (see [`ContactTable::table_cells`]).
    pub fn to_table(&self) -> String {
        let header = self.table_header();
        let rows: Vec<Vec<String>> = self.rows.iter().map(|r| self.table_cells(r)).collect();
        let mut widths = widths_of(&header);
        for r in &rows {
            widen(&mut widths, r);
        }
        let mut out = aligned(&header, &widths);
        for r in &rows {
            out.push_str(&aligned(r, &widths));
        }
        out
    }

    /// An HTML `<table>` (every value escaped).
    pub fn to_html_table(&self) -> String {
        let mut out = String::from("<table class=\"contacts\"><thead><tr>");
        let lang = Some(self.lang);
        for h in self.header(lang) {
            out.push_str(&format!("<th>{}</th>", escape(&h)));
        }
        out.push_str("</tr></thead><tbody>");
        for r in &self.rows {
            out.push_str("<tr>");
            for c in self.cells(r, lang) {
                let text = match c {
                    Cell::Text(s) => s,
                    Cell::Str(s) => s.to_string(),
                    Cell::Int(n) => n.to_string(),
                    Cell::Decimal(v, d) => self.lang.decimal(v, d),
                    Cell::Empty => String::new(),
                };
                out.push_str(&format!("<td>{}</td>", escape(&text)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        out
    }
}

/// The width of each cell, in characters.
pub fn widths_of(cells: &[String]) -> Vec<usize> {
    cells.iter().map(|h| h.chars().count()).collect()
}

/// Widens `widths` to fit `cells`.
pub fn widen(widths: &mut [usize], cells: &[String]) {
    for (w, c) in widths.iter_mut().zip(cells) {
        *w = (*w).max(c.chars().count());
    }
}

/// One line of an aligned table: cells padded to `widths`, two spaces apart.
pub fn aligned(cells: &[String], widths: &[usize]) -> String {
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        s.push_str(c);
        if i + 1 < cells.len() {
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(c.chars().count());
            s.push_str(&" ".repeat(pad + 2));
        }
    }
    s.push('\n');
    s
}

/// The columns of a campaign's contact report, known before the first contact is read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    /// The CSV columns, in the order of the files that brought them.
    pub extra: Vec<String>,
    /// Survey questions, first answered first.
    pub questions: Vec<String>,
    /// Capture fields, sorted.
    pub captured: Vec<String>,
    /// Whether the campaign has dispositions (their columns are then among `extra`).
    pub dispositions: bool,
    /// Whether its contacts are read through the whole table ([`Store::reads_whole_table`]).
    ///
    /// [`Store::reads_whole_table`]: crate::store::Store::reads_whole_table
    pub whole_table: bool,
}

impl ContactTable {
    /// An empty table with known columns: batches of rows are put in it one after another.
    pub fn with_columns(tz: Tz, lang: Lang, columns: &Columns) -> ContactTable {
        ContactTable {
            tz,
            lang,
            rows: Vec::new(),
            extra: columns.extra.clone(),
            questions: columns.questions.clone(),
            answers: Default::default(),
            captured: columns.captured.clone(),
            said: Default::default(),
        }
    }

    /// Replaces the rows (and what hangs off them) with the next batch. Answers and
    /// transcripts of a question or field the columns do not name are left out: the heading
    /// is already written.
    pub fn set_batch(
        &mut self,
        rows: Vec<ContactReportRow>,
        answers: Vec<(i64, String, String)>,
        captures: Vec<CaptureRow>,
    ) {
        self.rows = rows;
        self.answers.clear();
        self.said.clear();
        for (contact, question, key) in answers {
            if self.questions.contains(&question) {
                self.answers
                    .entry(contact)
                    .or_default()
                    .insert(question, key);
            }
        }
        for c in captures {
            if self.captured.contains(&c.field) {
                self.said
                    .entry(c.contact_id)
                    .or_default()
                    .insert(c.field, (c.status, c.text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn row(phone: &str, vars: &[(&str, &str)]) -> ContactReportRow {
        ContactReportRow {
            contact_id: 1,
            phone: phone.into(),
            name: "Ana <b>".into(),
            state: "delivered".into(),
            attempts: 2,
            last_result: Some("answered".into()),
            dtmf: Some("1".into()),
            last_call_at: Some(1_780_000_000_000),
            talk_seconds: 31,
            cost: 0.0205,
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn csv_has_fixed_columns_then_the_original_ones() {
        let t = ContactTable::new(
            chrono_tz::Europe::Madrid,
            vec![
                row("+34600000001", &[("vivienda", "3ºB"), ("state", "x")]),
                row("+34600000002", &[("vivienda", "1ºA")]),
            ],
        );
        let csv = t.to_csv(CsvStyle::Excel);
        let mut lines = csv.trim_start_matches('\u{feff}').lines();
        assert_eq!(
            lines.next().unwrap(),
            "teléfono;nombre;estado;intentos;último resultado;teclas;última llamada;segundos hablados;coste;csv_state;vivienda"
        );
        // 1_780_000_000_000 ms = 2026-05-28 20:26:40 UTC = 22:26:40 in Madrid (CEST).
        assert_eq!(
            lines.next().unwrap(),
            "'+34600000001;Ana <b>;entregado;2;contestada;1;28 may 2026 22:26;31;0,0205;x;3ºB"
        );
        assert_eq!(
            lines.next().unwrap(),
            "'+34600000002;Ana <b>;entregado;2;contestada;1;28 may 2026 22:26;31;0,0205;;1ºA"
        );
        // Scripts get identifiers and ISO times, byte for byte.
        let std = t.to_csv(CsvStyle::Standard);
        let mut lines = std.lines();
        assert_eq!(
            lines.next().unwrap(),
            "phone,name,state,attempts,last_result,dtmf,last_call_at,talk_seconds,cost,csv_state,vivienda"
        );
        assert_eq!(
            lines.next().unwrap(),
            "+34600000001,Ana <b>,delivered,2,answered,1,2026-05-28 22:26:40,31,0.0205,x,3ºB"
        );
        let en = t.with_lang(Lang::En).to_csv(CsvStyle::Excel);
        assert!(
            en.contains("phone;name;state;attempts;last result;keys;last call;talk seconds;cost"),
            "{en}"
        );
        assert!(
            en.contains(";delivered;2;answered;1;28 May 2026 22:26;"),
            "{en}"
        );
    }

    #[test]
    fn json_and_html_carry_every_field_escaped() {
        let t = ContactTable::new(chrono_tz::UTC, vec![row("+34600000001", &[("a", "<i>")])]);
        let j = t.to_json();
        assert_eq!(j[0]["last_call_at"], "2026-05-28T20:26:40+00:00");
        assert_eq!(j[0]["vars"]["a"], "<i>");
        assert_eq!(j[0]["talk_seconds"], 31);
        let h = t.to_html_table();
        assert!(h.contains("<td>Ana &lt;b&gt;</td>") && h.contains("<td>&lt;i&gt;</td>"));
        assert!(!h.contains("<i>"));
        let table = t.to_table();
        assert!(table.starts_with("teléfono "), "{table}");
        assert!(table.contains("+34600000001"));
    }

    #[test]
    fn survey_answers_get_a_column_per_question() {
        let mut a = row("+34600000001", &[]);
        a.contact_id = 1;
        let mut b = row("+34600000002", &[]);
        b.contact_id = 2;
        let t = ContactTable::new(chrono_tz::UTC, vec![a, b]).with_answers(vec![
            (1, "q1".into(), "5".into()),
            (1, "q2".into(), "3".into()),
            (1, "q10".into(), "2".into()),
            (2, "q1".into(), "4".into()),
            (1, "q1".into(), "1".into()),
        ]);
        assert_eq!(t.questions, vec!["q1", "q2", "q10"]);
        let csv = t.to_csv(CsvStyle::Standard);
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().ends_with(",cost,q1,q2,q10"));
        // The last answer to a question counts; each key in its own cell, never "51".
        assert!(lines.next().unwrap().ends_with(",0.0205,1,3,2"), "{csv}");
        assert!(lines.next().unwrap().ends_with(",0.0205,4,,"), "{csv}");
        let j = t.to_json();
        assert_eq!(j[0]["answers"]["q1"], "1");
        assert_eq!(j[1]["answers"]["q2"], serde_json::Value::Null);
        // Other kinds keep their shape.
        let plain = ContactTable::new(chrono_tz::UTC, vec![row("+34600000001", &[])]);
        assert!(plain.to_json()[0].get("answers").is_none());
    }
}
