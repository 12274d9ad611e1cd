//! The one catalogue of human-facing text, in Spanish (the default) and English (`[ui]
//! language`), and the Spanish or English way of writing dates, numbers and money.
//!
//! Guarantees: every key has a text in every language (a test fails otherwise); states,
//! outcomes and JSON keys keep their stable identifiers everywhere else — only what people read
//! goes through here (`label` of an identifier, `text` of a message key). An identifier the
//! catalogue does not know is shown as it is, never dropped.

use chrono::{DateTime, Datelike, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

/// The language people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Es,
    En,
}

/// (key, Spanish, English). Keys are the stable identifiers (states, results, kinds) or a
/// dotted name for a message.
const CATALOGUE: &[(&str, &str, &str)] = &[
    // Contact states and outcomes.
    ("pending", "pendiente", "pending"),
    ("scheduled", "programado", "scheduled"),
    ("in_progress", "en curso", "in progress"),
    ("confirmed", "confirmada", "confirmed"),
    ("cancelled", "anulada", "cancelled"),
    ("transferred", "transferida", "transferred"),
    ("no_response", "sin respuesta", "no response"),
    ("delivered", "entregado", "delivered"),
    ("interested", "interesado", "interested"),
    ("opted_out", "baja solicitada", "opted out"),
    ("not_interested", "no interesado", "not interested"),
    ("completed", "completada", "completed"),
    ("partial", "parcial", "partial"),
    ("connected", "conectada", "connected"),
    ("abandoned", "abandonada", "abandoned"),
    ("unreachable", "inalcanzable", "unreachable"),
    ("invalid_number", "número no válido", "invalid number"),
    ("blocked", "bloqueado", "blocked"),
    ("expired", "caducado", "expired"),
    ("failed", "fallido", "failed"),
    // Funnel steps.
    ("contacts", "contactos", "contacts"),
    ("called", "llamados", "called"),
    // Attempt results.
    ("answered", "contestada", "answered"),
    ("busy", "ocupado", "busy"),
    ("no_answer", "no contesta", "no answer"),
    ("congestion", "red saturada", "congestion"),
    ("lost", "perdida", "lost"),
    // Campaign kinds.
    ("reminder", "recordatorio", "reminder"),
    ("announcement", "aviso", "announcement"),
    ("promotion", "promoción", "promotion"),
    ("survey", "encuesta", "survey"),
    ("sales", "ventas", "sales"),
    // Campaign states (`campaigns`, dashboard).
    ("campaign.active", "activa", "active"),
    ("campaign.paused", "en pausa", "paused"),
    ("campaign.finished", "terminada", "finished"),
    (
        "campaign.outside_hours",
        "fuera de horario",
        "outside calling hours",
    ),
    ("campaign.until", "hasta", "until"),
    // Callback tasks (`pregonero callbacks`).
    ("callbacks.id", "nº", "no."),
    ("callbacks.campaign", "campaña", "campaign"),
    ("callbacks.called_at", "llamó el", "called at"),
    ("callbacks.calls", "llamadas", "calls"),
    ("callbacks.agent", "agente", "agent"),
    (
        "callbacks.call_back_at",
        "le llamamos el",
        "we call back at",
    ),
    ("callbacks.state", "estado", "state"),
    ("callbacks.team", "equipo", "team"),
    ("callbacks.open", "pendiente", "open"),
    ("callbacks.done", "hecha", "done"),
    (
        "callbacks.none",
        "No hay llamadas que devolver.",
        "No calls to return.",
    ),
    ("campaign.by_operator", "por un operador", "by an operator"),
    (
        "campaign.folder_missing",
        "carpeta ausente o no válida",
        "folder missing or invalid",
    ),
    // The dashboard.
    ("dash.campaigns", "campañas", "campaigns"),
    ("dash.Campaigns", "Campañas", "Campaigns"),
    (
        "dash.live",
        "Progreso en directo, actualizado cada 5 segundos.",
        "Live progress, refreshed every 5 seconds.",
    ),
    ("dash.campaign", "campaña", "campaign"),
    ("dash.kind", "tipo", "kind"),
    ("dash.state", "estado", "state"),
    ("dash.progress", "progreso", "progress"),
    ("dash.talk", "conversación (s)", "talk (s)"),
    ("dash.cost", "coste (€)", "cost (€)"),
    ("dash.report", "informe", "report"),
    ("dash.loading", "cargando…", "loading…"),
    ("dash.team", "equipo", "team"),
    ("dash.extension", "extensión", "extension"),
    ("dash.time_in_state", "tiempo en el estado", "time in state"),
    ("dash.no_agents", "no hay agentes", "no desk agents"),
    (
        "dash.noscript",
        "Esta página necesita JavaScript para actualizarse; el JSON está en",
        "This page needs JavaScript to refresh; the JSON is at",
    ),
    ("dash.no_campaigns", "aún no hay campañas", "no campaigns yet"),
    ("dash.html_report", "informe HTML", "HTML report"),
    ("dash.updated", "Actualizado", "Updated"),
    ("dash.refresh_failed", "no se pudo actualizar", "refresh failed"),
    ("agent_state.logged_out", "desconectado", "logged out"),
    ("agent_state.ready", "disponible", "ready"),
    ("agent_state.paused", "en pausa", "paused"),
    ("agent_state.on_call", "en llamada", "on call"),
    ("agent_state.wrapup", "cerrando la llamada", "wrap-up"),
    // `pregonero campaigns`.
    ("campaigns.done", "hechos", "done"),
    ("campaigns.error", "error", "error"),
    // `pregonero explain`.
    ("explain.campaign", "campaña", "campaign"),
    ("explain.holidays", "festivos", "holidays"),
    ("explain.attempts", "intentos", "attempts"),
    ("explain.of", "de", "of"),
    ("explain.not_placed", "no lanzado", "not placed"),
    (
        "explain.launch_unknown",
        "resultado del lanzamiento desconocido",
        "launch result unknown",
    ),
    ("explain.keys", "teclas", "keys"),
    ("explain.in_call", "hay una llamada en curso", "a call is in progress now"),
    ("explain.campaign_paused", "la campaña está en pausa", "the campaign is paused"),
    ("explain.retry_due", "reintento previsto", "retry due"),
    ("explain.due", "previsto", "due"),
    (
        "explain.due_now",
        "le toca ahora: se llamará en cuanto haya una línea libre",
        "due now: it will be called as soon as a line is free",
    ),
    ("explain.will_end", "terminará como", "it will end"),
    (
        "explain.unreachable",
        "intentos agotados sin respuesta",
        "attempts spent without an answer",
    ),
    (
        "explain.invalid_number",
        "el operador dice que el número no existe (dos veces)",
        "the provider says the number does not exist (twice)",
    ),
    (
        "explain.failed",
        "el operador rechazó la llamada definitivamente",
        "the provider refused the call for good",
    ),
    ("explain.finished", "terminado", "finished"),
    ("explain.why", "por qué", "why"),
    ("explain.note", "nota", "note"),
    // Contact report columns.
    ("col.phone", "teléfono", "phone"),
    ("col.name", "nombre", "name"),
    ("col.state", "estado", "state"),
    ("col.attempts", "intentos", "attempts"),
    ("col.last_result", "último resultado", "last result"),
    ("col.dtmf", "teclas", "keys"),
    ("col.last_call_at", "última llamada", "last call"),
    ("col.talk_seconds", "segundos hablados", "talk seconds"),
    ("col.cost", "coste", "cost"),
    // HTML report.
    ("html.report", "informe de pregonero", "pregonero report"),
    ("html.contacts", "contactos", "contacts"),
    ("html.generated", "generado el", "generated"),
    ("html.summary", "Resumen", "Summary"),
    ("html.attempts", "intentos", "attempts"),
    ("html.talk_seconds", "tiempo hablado (s)", "talk time (s)"),
    ("html.funnel", "Embudo de resultados", "Outcome funnel"),
    (
        "html.over_time",
        "Intentos y respuestas en el tiempo",
        "Attempts and answers over time",
    ),
    (
        "html.rate_by_hour",
        "Tasa de respuesta por hora del día",
        "Answer rate by hour of day",
    ),
    ("html.answer_rate", "tasa de respuesta", "answer rate"),
    (
        "html.abandon",
        "Tasa de abandono a 30 días (ventas)",
        "30-day abandon rate (sales)",
    ),
    ("html.survey", "Respuestas de la encuesta", "Survey answers"),
    ("html.compliance", "Cumplimiento", "Compliance"),
    ("html.inbound", "Llamadas entrantes", "Inbound calls"),
    ("html.agents", "Agentes", "Agents"),
    ("html.no_data", "sin datos", "no data"),
    ("agent.agent", "agente", "agent"),
    ("agent.calls", "llamadas atendidas", "calls taken"),
    ("agent.missed", "no atendidas", "missed"),
    ("agent.talk_seconds", "conversación (s)", "talk (s)"),
    ("agent.wrapup_seconds", "cierre (s)", "wrap-up (s)"),
    ("agent.idle_seconds", "en espera (s)", "idle (s)"),
    ("agent.dispositions", "resultados", "dispositions"),
    ("inbound.calls", "llamadas recibidas", "calls received"),
    ("inbound.matched", "de contactos de la campaña", "from the campaign's contacts"),
    ("inbound.to_agent", "pasadas a un agente", "put through to an agent"),
    ("inbound.opted_out", "bajas", "opt-outs"),
    ("inbound.confirmed", "citas confirmadas", "appointments confirmed"),
    ("inbound.cancelled", "citas anuladas", "appointments cancelled"),
    (
        "inbound.callbacks_open",
        "pendientes de devolver",
        "callbacks still owed",
    ),
    ("html.contact_table", "Contactos", "Contacts"),
    (
        "html.contacts_capped",
        "Se muestran los {shown} primeros de {total} contactos (el resumen y los gráficos los cuentan todos); la lista completa: pregonero report {campaign} --contacts --format csv",
        "Showing the first {shown} of {total} contacts (the summary and charts count them all); the full list: pregonero report {campaign} --contacts --format csv",
    ),
    (
        "breach.outside_window",
        "llamadas fuera de horario",
        "calls outside the window",
    ),
    (
        "breach.abandon_rate",
        "tasa de abandono sobre el límite",
        "abandon rate over the limit",
    ),
    (
        "breach.opt_out_not_listed",
        "bajas fuera de la lista",
        "opt-outs not on the list",
    ),
    (
        "breach.reminder_after_appointment",
        "recordatorios tras la cita",
        "reminders after the appointment",
    ),
    // Compliance.
    ("compliance.title", "cumplimiento", "compliance"),
    ("compliance.breach", "INCUMPLE", "BREACH"),
    ("compliance.launches", "llamadas lanzadas", "launches"),
    (
        "compliance.outside_window",
        "fuera del horario del destinatario",
        "outside the callee's window",
    ),
    (
        "compliance.unknown",
        "desconocido (carpeta no cargada)",
        "unknown (campaign folder not loaded)",
    ),
    ("compliance.attempt", "intento", "attempt"),
    (
        "compliance.regional_holiday",
        "en festivo de la región del destinatario",
        "on a holiday of the callee's region",
    ),
    ("compliance.region", "región", "region"),
    ("compliance.none", "ninguna", "none"),
    (
        "compliance.abandon_last_30",
        "abandono, últimos 30 días",
        "abandon rate, last 30 days",
    ),
    (
        "compliance.abandon_worst_30",
        "abandono, peores 30 días",
        "abandon rate, worst 30 days",
    ),
    (
        "compliance.limit",
        "límite de abandono",
        "abandon rate limit",
    ),
    (
        "compliance.dnc_blocked",
        "bloqueos por lista de no llamar",
        "do-not-call hits prevented",
    ),
    ("compliance.opt_outs", "bajas", "opt-outs"),
    (
        "compliance.opt_outs_not_listed",
        "bajas fuera de la lista",
        "opt-outs not on the list",
    ),
    (
        "compliance.slowest_opt_out",
        "baja más lenta en llegar a la lista",
        "slowest opt-out to list",
    ),
    (
        "compliance.reminders_late",
        "recordatorios tras la cita",
        "reminders after the appointment",
    ),
];

/// Short month names, January first.
const MONTHS_ES: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn find(key: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    CATALOGUE.iter().find(|(k, _, _)| *k == key)
}

/// Whether the catalogue holds `key` (tests of texts kept outside this file, e.g. a page's
/// `@@key@@` marks).
pub fn has(key: &str) -> bool {
    find(key).is_some()
}

impl Lang {
    /// The text of a key; a key the catalogue does not hold is returned as it is (an identifier
    /// shown raw is better than nothing, and the catalogue test names the missing ones).
    pub fn text(self, key: &str) -> &str {
        match (find(key), self) {
            (Some((_, es, _)), Lang::Es) => es,
            (Some((_, _, en)), Lang::En) => en,
            (None, _) => key,
        }
    }

    /// The label of a state, result or kind identifier ("delivered" → "entregado").
    pub fn label(self, id: &str) -> &str {
        self.text(id)
    }

    /// A date and time as people write it: "4 dic 2026 10:30" / "4 Dec 2026 10:30".
    pub fn datetime<Tz: TimeZone>(self, t: &DateTime<Tz>) -> String {
        let months = match self {
            Lang::Es => &MONTHS_ES,
            Lang::En => &MONTHS_EN,
        };
        format!(
            "{} {} {} {:02}:{:02}",
            t.day(),
            months[t.month0() as usize],
            t.year(),
            t.hour(),
            t.minute()
        )
    }

    /// A date: "4 dic 2026" / "4 Dec 2026".
    pub fn date<D: Datelike>(self, d: &D) -> String {
        let months = match self {
            Lang::Es => &MONTHS_ES,
            Lang::En => &MONTHS_EN,
        };
        format!("{} {} {}", d.day(), months[d.month0() as usize], d.year())
    }

    /// A number with `digits` decimals: "0,96" / "0.96".
    pub fn decimal(self, v: f64, digits: usize) -> String {
        let s = format!("{v:.digits$}");
        match self {
            Lang::Es => s.replace('.', ","),
            Lang::En => s,
        }
    }

    /// Money in euros: "0,96 €" / "€0.96".
    pub fn euros(self, v: f64) -> String {
        match self {
            Lang::Es => format!("{} €", self.decimal(v, 2)),
            Lang::En => format!("€{}", self.decimal(v, 2)),
        }
    }

    /// A share (0–1) as a percentage with two decimals: "26,92 %" / "26.92%".
    pub fn percent(self, share: f64) -> String {
        match self {
            Lang::Es => format!("{} %", self.decimal(share * 100.0, 2)),
            Lang::En => format!("{}%", self.decimal(share * 100.0, 2)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_text_in_every_language() {
        let mut keys = std::collections::BTreeSet::new();
        for (key, es, en) in CATALOGUE {
            assert!(keys.insert(*key), "key {key} twice in the catalogue");
            assert!(!es.trim().is_empty(), "key {key} has no Spanish text");
            assert!(!en.trim().is_empty(), "key {key} has no English text");
        }
        // Every state, result and kind a person can see has a label.
        let mut ids: Vec<&str> = Vec::new();
        for kind in [
            crate::campaign::Kind::Reminder,
            crate::campaign::Kind::Announcement,
            crate::campaign::Kind::Promotion,
            crate::campaign::Kind::Survey,
            crate::campaign::Kind::Sales,
        ] {
            ids.push(kind.as_str());
            ids.extend(kind.states());
        }
        for r in [
            "answered",
            "busy",
            "no_answer",
            "unreachable",
            "congestion",
            "failed",
            "lost",
        ] {
            let parsed = crate::schedule::AttemptResult::parse(r).expect("a result");
            ids.push(parsed.as_str());
        }
        for id in ids {
            assert!(find(id).is_some(), "{id} has no label in the catalogue");
        }
    }

    #[test]
    fn spanish_dates_numbers_and_money() {
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 12, 4, 10, 30, 0)
            .unwrap();
        assert_eq!(Lang::Es.datetime(&t), "4 dic 2026 10:30");
        assert_eq!(Lang::En.datetime(&t), "4 Dec 2026 10:30");
        assert_eq!(Lang::Es.euros(0.9649), "0,96 €");
        assert_eq!(Lang::En.euros(0.9649), "€0.96");
        assert_eq!(Lang::Es.percent(0.2692), "26,92 %");
        assert_eq!(Lang::Es.label("delivered"), "entregado");
        assert_eq!(Lang::Es.label("no_response"), "sin respuesta");
        assert_eq!(Lang::Es.label("confirmed"), "confirmada");
        assert_eq!(Lang::En.label("no_response"), "no response");
        assert_eq!(Lang::Es.label("something_new"), "something_new");
    }
}
