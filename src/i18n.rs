//! The one catalogue of human-facing text, in Spanish (the default) and English (`[ui]
//! language`), and the Spanish or English way of writing dates, numbers and money.
//!
//! Guarantees: every key has a text in every language (a test fails otherwise); states,
//! outcomes and JSON keys keep their stable identifiers everywhere else — only what people read
//! goes through here (`label` of an identifier, `text` of a message key). An identifier the
//! catalogue does not know is shown as it is, never dropped.

use chrono::{DateTime, Datelike, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

/// A TOML parse error of the form `line N: what`, split into the line number and the rest, so
/// that the line can be said the reader's way; `None` for any other message.
pub fn toml_line(message: &str) -> Option<(&str, &str)> {
    message
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
        .filter(|(n, _)| n.parse::<u64>().is_ok())
}

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
    // A call report line's `status`, as the provider writes it.
    ("report_status.answer", "contestada", "answer"),
    ("report_status.busy", "ocupado", "busy"),
    ("report_status.noanswer", "no contesta", "noanswer"),
    ("report_status.cancel", "colgada antes de contestar", "cancel"),
    ("report_status.congestion", "red saturada", "congestion"),
    ("report_status.chanunavail", "inalcanzable", "chanunavail"),
    // Inbound calls' outcomes and routes.
    ("to_agent", "pasada a un agente", "to an agent"),
    ("no_agent", "sin agente", "no agent"),
    ("route.agent", "agente", "agent"),
    ("route.menu", "menú", "menu"),
    ("route.greeting", "saludo", "greeting"),
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
    // Why a contact or a campaign is not called now (`explain`, `campaigns`, `check`, the
    // dashboard). The key is the reason's stable identifier where it is stored.
    ("why.open_always", "abierto a todas horas ({zone})", "open at every hour ({zone})"),
    ("why.open_until", "abierto hasta las {until} ({zone})", "open until {until} ({zone})"),
    ("why.zone", "{zone}", "{zone}"),
    (
        "why.no_zone",
        "cerrado: el número no tiene zona horaria",
        "closed: no time zone for this number",
    ),
    (
        "why.open_all",
        "abierto en todas las zonas en las que puede estar el número ({zones})",
        "open in every zone the number may be in ({zones})",
    ),
    (
        "why.zone_context",
        "{zone}; el número puede estar en {zones}",
        "{zone}; the number may be in {zones}",
    ),
    ("why.holiday_day", "festivo ({day})", "holiday ({day})"),
    ("why.outside_hours", "fuera de horario", "outside calling hours"),
    ("why.closed_until", "{reason} hasta {until} ({context})", "{reason} until {until} ({context})"),
    (
        "why.closed_for_good",
        "{reason}, y no abre en los próximos 400 días ({context})",
        "{reason}, and it does not open in the next 400 days ({context})",
    ),
    ("why.ended", "terminada", "ended"),
    ("why.starts", "empieza el {at}", "starts {at}"),
    ("why.next_round", "próxima ronda el {at}", "next round {at}"),
    ("why.no_round", "no quedan rondas", "no round ahead"),
    ("why.campaign_ended", "la campaña terminó ({at})", "the campaign ended ({at})"),
    ("why.no_appointment", "no hay cita que recordar", "no appointment to remind"),
    (
        "why.appointment_passed",
        "la cita ({at}) ya ha pasado",
        "the appointment ({at}) has passed",
    ),
    ("why.campaign_starts", "la campaña empieza el {at}", "the campaign starts {at}"),
    ("why.reminder_due", "el recordatorio toca el {at}", "the reminder is due {at}"),
    (
        "why.round_not_open",
        "la ronda aún no ha empezado: próxima ronda el {at}",
        "round not open yet: next round {at}",
    ),
    (
        "why.no_round_ahead",
        "el calendario no tiene más rondas",
        "the schedule has no round ahead",
    ),
    (
        "why.holiday",
        "festivo el {day} en {zone}: {name} ({scope}; {region})",
        "holiday {day} in {zone}: {name} ({scope}; {region})",
    ),
    ("why.callee_region", "región del destinatario: {place}", "the callee's region {place}"),
    (
        "why.no_callee_region",
        "no se conoce la región del destinatario",
        "no region known for the callee",
    ),
    (
        "why.zones_closed",
        "fuera de horario en una de sus zonas posibles ({zones})",
        "outside calling hours in one of its possible zones ({zones})",
    ),
    ("why.and", "{a}; {b}", "{a}; {b}"),
    (
        "why.campaign_zone",
        "las zonas en las que puede estar el número ({zones}) no tienen una franja de llamada común en los próximos {days} días, así que se le llama en la zona de la campaña ({zone})",
        "no calling window common to the zones the number may be in ({zones}) in the next {days} days, so it is called in the campaign's zone ({zone})",
    ),
    ("why.next_window", "{why}; próxima franja el {at}", "{why}; next window {at}"),
    (
        "why.no_window_before_deadline",
        "{why}, y no se abre ninguna franja antes del plazo",
        "{why}, and no window opens before the deadline",
    ),
    (
        "why.no_window_ahead",
        "{why}, y no se abre ninguna franja de llamada en los próximos {days} días",
        "{why}, and no calling window opens in the next {days} days",
    ),
    ("why.dnc", "en la lista de no llamar ({source})", "on the do-not-call list ({source})"),
    (
        "why.dnc_until",
        "en la lista de no llamar hasta el {until} ({source})",
        "on the do-not-call list until {until} ({source})",
    ),
    (
        "why.dnc_hours",
        "horas de no llamar {hours} ({source})",
        "do-not-call hours {hours} ({source})",
    ),
    (
        "why.hashed_list",
        "en una lista de exclusión cifrada",
        "on a hashed exclusion list",
    ),
    ("why.no_consent", "sin fecha de consentimiento válida", "no valid consent date"),
    (
        "why.consent_expired",
        "el consentimiento dado el {given} caducó tras el {last} (consent_valid_for)",
        "consent given on {given} expired after {last} (consent_valid_for)",
    ),
    (
        "why.consent_out_of_range",
        "la fecha de consentimiento {given} está fuera de rango",
        "consent date {given} is out of range",
    ),
    ("place", "{region} ({province}{from})", "{region} ({province}{from})"),
    ("place.from_column", "de la columna {column}", "from the {column} column"),
    ("place.from_phone", "por el prefijo del fijo", "from the landline's prefix"),
    (
        "place.from_campaign",
        "el holiday_region de la campaña",
        "the campaign's holiday_region",
    ),
    (
        "holidays.no_calendar",
        "sin calendario regional (holiday_calendar no tiene regiones)",
        "no regional calendar (holiday_calendar has no regions)",
    ),
    ("holidays.region", "región {place}", "region {place}"),
    (
        "holidays.unknown_any",
        "región desconocida: no se llama en el festivo de ninguna región (unknown_region = \"any\")",
        "no region known: no call on any region's holiday (unknown_region = \"any\")",
    ),
    (
        "holidays.unknown_national",
        "región desconocida: solo festivos nacionales (unknown_region = \"national\")",
        "no region known: national days only (unknown_region = \"national\")",
    ),
    // `pregonero check`.
    ("check.error", "error", "error"),
    ("check.warning", "aviso", "warning"),
    (
        "check.bad_region",
        "calling.default_region \"{region}\" no es un código de país como ES",
        "calling.default_region \"{region}\" is not a country code such as ES",
    ),
    (
        "check.dnc_file",
        "{file}: {count} número(s) en la lista de no llamar",
        "{file}: {count} number(s) on the do-not-call list",
    ),
    ("check.line", "línea {line}: {error}", "line {line}: {error}"),
    ("check.campaign", "campaña", "campaign"),
    (
        "check.demo",
        "demo: solo la marca el simulador",
        "demo: dialed only by the simulator",
    ),
    (
        "check.hours",
        "horario de llamada {hours} en la zona horaria del destinatario; ahora: {status}",
        "calling hours {hours} in the callee's time zone; now: {status}",
    ),
    (
        "check.caller_id",
        "el caller_id {caller_id} no está entre los caller_ids de [provider]: el proveedor puede rechazarlo y los destinatarios verían \"anonymous\"",
        "caller_id {caller_id} is not among [provider] caller_ids: the provider may refuse it and callees would see \"anonymous\"",
    ),
    ("check.rounds", "rondas", "rounds"),
    ("check.every_event", "todos los eventos", "every event"),
    ("check.signed", "firmados", "signed"),
    (
        "check.unsigned",
        "sin firmar: ponga [events] secret_file para firmarlos",
        "unsigned: set [events] secret_file to sign them",
    ),
    ("check.events", "eventos: {types} a {url} ({signed})", "events: {types} to {url} ({signed})"),
    (
        "check.callbacks",
        "devolución de llamadas: a quien llamó y nadie atendió se le llama en su próxima franja ([inbound] call_back)",
        "callbacks: callers nobody took are called back in their next calling window ([inbound] call_back)",
    ),
    ("check.no_csv", "no hay archivos CSV en {dir}", "no CSV files in {dir}"),
    (
        "check.fix_rows",
        "corrija estas filas (al importar se escriben en {file}.rejected.csv, con el motivo)",
        "fix these rows (they are written to {file}.rejected.csv on import, with the reason)",
    ),
    ("check.tls", "TLS: HTTPS con el certificado de {file}", "TLS: HTTPS with the certificate in {file}"),
    (
        "check.paste",
        "Pegue estas URL en el panel de netelip (instancia de API Voice \"{api}\"):",
        "Paste these in netelip's panel (API Voice instance \"{api}\"):",
    ),
    ("check.control_url", "URL de control:", "control URL:"),
    ("check.report_url", "URL de informe:", "report URL: "),
    ("check.inbound_url", "URL de entrada:", "inbound URL:"),
    (
        "check.inbound_url_note",
        "\"URL de control para llamadas entrantes\": los destinatarios que devuelven la llamada",
        "\"URL de control para llamadas entrantes\": callees calling back",
    ),
    (
        "check.no_public_url",
        "server.public_url no está puesto: estas usan la dirección de escucha; póngalo con la dirección por la que llega el proveedor",
        "server.public_url is not set: these use the listen address; set it to the address the provider reaches",
    ),
    (
        "check.no_secret",
        "server.secret no está puesto: el simulador integrado usa uno al azar en cada arranque. Póngalo (y server.public_url) antes de apuntar netelip a este servicio.",
        "server.secret is not set: the built-in simulator uses a random one per run. Set it (and server.public_url) before pointing netelip at this daemon.",
    ),
    (
        "check.summary",
        "{errors} error(es), {rows} fila(s) que no se importarán",
        "{errors} error(s), {rows} row(s) that will not be imported",
    ),
    ("check.ok", "correcto", "ok"),
    // `pregonero doctor`.
    ("doctor.configuration", "configuración", "configuration"),
    ("doctor.config_read", "{file} leído", "{file} read"),
    (
        "doctor.no_config",
        "sin archivo (--config o PREGONERO_CONFIG): cada clave tiene su valor por defecto",
        "no file (--config or PREGONERO_CONFIG): every key has its default",
    ),
    ("doctor.provider", "proveedor", "provider"),
    ("doctor.apivoice", "apivoice, instancia \"{api}\"", "apivoice, instance \"{api}\""),
    (
        "doctor.simulator",
        "el simulador integrado: ninguna llamada sale de esta máquina",
        "the built-in simulator: no call leaves this machine",
    ),
    ("doctor.database", "base de datos", "database"),
    (
        "doctor.database_ok",
        "{backend} accesible, migraciones aplicadas",
        "{backend} reachable, migrations applied",
    ),
    ("doctor.no_answer", "sin respuesta en {seconds} s", "no answer within {seconds} s"),
    ("doctor.cannot_connect", "no se puede conectar", "cannot connect"),
    ("doctor.token", "token del proveedor", "provider token"),
    ("doctor.token_set", "puesto", "set"),
    (
        "doctor.token_missing",
        "ponga provider.token_file (o provider.token)",
        "set provider.token_file (or provider.token)",
    ),
    (
        "doctor.token_in_file",
        "el token está en el archivo de configuración; provider.token_file (modo 0600) lo saca de él",
        "the token is in the configuration file; provider.token_file (mode 0600) keeps it out of it",
    ),
    (
        "doctor.no_secret",
        "no está puesto: las URL de los webhooks no son fijas (una al azar en cada arranque con el simulador)",
        "not set: the webhook URLs are not fixed (a random one per run with the simulator)",
    ),
    (
        "doctor.no_public_url",
        "no está puesto: netelip no puede llegar a una dirección local",
        "not set: netelip cannot reach a loopback address",
    ),
    ("doctor.control_url", "URL de control", "control URL"),
    ("doctor.report_url", "URL de informe", "report URL"),
    ("doctor.get_ok", "GET {url} responde {status}", "GET {url} answers {status}"),
    (
        "doctor.get_refused",
        "GET {url} responde {status} (¿es pregonero, con este secreto?)",
        "GET {url} answers {status} (is this pregonero, with this secret?)",
    ),
    (
        "doctor.get_failed",
        "GET {url} falló: {error} (¿está en marcha `pregonero run`, y la dirección es pública?)",
        "GET {url} failed: {error} (is `pregonero run` up, and the address public?)",
    ),
    (
        "doctor.provider_url",
        "{url} responde (HTTP {status}); API Voice no tiene ninguna petición que compruebe el token sin hacer una llamada: ejecute `pregonero test-call SU_TELÉFONO --campaign ID`",
        "{url} answers (HTTP {status}); API Voice has no request that checks the token without placing a call: run `pregonero test-call YOUR_PHONE --campaign ID`",
    ),
    (
        "doctor.panel",
        "En el panel de netelip, instancia de API Voice \"{api}\":",
        "In netelip's panel, API Voice instance \"{api}\":",
    ),
    (
        "doctor.summary",
        "{warnings} aviso(s), {failures} fallo(s)",
        "{warnings} warning(s), {failures} failure(s)",
    ),
    (
        "doctor.world_readable",
        "{file} lo puede leer cualquier usuario (modo {mode}): chmod 600 o 640",
        "{file} is readable by every user (mode {mode}): chmod 600 or 640",
    ),
    ("doctor.mode", "{file} modo {mode}", "{file} mode {mode}"),
    ("doctor.exists", "{file} existe", "{file} exists"),
    (
        "doctor.cert_unreadable",
        "{file}: no se puede leer la caducidad del certificado",
        "{file}: cannot read the certificate's expiry",
    ),
    ("doctor.cert_expired", "{file} caducó el {when}", "{file} expired on {when}"),
    (
        "doctor.cert_expires",
        "{file} caduca el {when}, dentro de {days} día(s)",
        "{file} expires on {when}, in {days} day(s)",
    ),
    (
        "doctor.cert_valid",
        "{file} válido hasta el {when} ({days} días)",
        "{file} valid until {when} ({days} days)",
    ),
    // The quality of a CSV file, in `check`.
    (
        "quality.read",
        "{rows} leídas: {valid}, {rejected}, {duplicates}, {dnc} en la lista de no llamar",
        "{rows} read: {valid}, {rejected}, {duplicates}, {dnc} on the do-not-call list",
    ),
    ("quality.rows", "{n} fila", "{n} row"),
    ("quality.rows_n", "{n} filas", "{n} rows"),
    ("quality.valid", "{n} contacto válido", "{n} valid contact"),
    ("quality.valid_n", "{n} contactos válidos", "{n} valid contacts"),
    ("quality.rejected", "{n} rechazado", "{n} rejected"),
    ("quality.rejected_n", "{n} rechazados", "{n} rejected"),
    ("quality.duplicates", "{n} duplicado fusionado", "{n} duplicate merged"),
    ("quality.duplicates_n", "{n} duplicados fusionados", "{n} duplicates merged"),
    (
        "quality.rejected_reason",
        "rechazadas {n}×: {reason} ({lines})",
        "rejected {n}×: {reason} ({lines})",
    ),
    ("quality.line", "línea {lines}", "line {lines}"),
    ("quality.lines", "líneas {lines}", "lines {lines}"),
    (
        "quality.numbers_in",
        "números de {country}: {mobile} móviles, {landline} fijos, {other} otros",
        "numbers in {country}: {mobile} mobile, {landline} landline, {other} other",
    ),
    (
        "quality.no_region",
        "{n} contactos no tienen región para los festivos autonómicos (ni columna provincia, comunidad, codigo_postal/cp o region, ni fijo, ni holiday_region): {observes}",
        "{n} contacts have no region for regional holidays (no provincia, comunidad, codigo_postal/cp or region column, not a landline, no holiday_region): {observes}",
    ),
    (
        "quality.observes_any",
        "no se llama en el festivo de ninguna región (unknown_region = \"any\")",
        "no call on any region's holiday (unknown_region = \"any\")",
    ),
    (
        "quality.observes_national",
        "solo festivos nacionales (unknown_region = \"national\")",
        "national holidays only (unknown_region = \"national\")",
    ),
    (
        "quality.campaign_zone",
        "{n} contactos pueden estar en varias zonas horarias sin franja de llamada común en los próximos 7 días: se les llama en la zona de la campaña",
        "{n} contacts may be in several time zones that share no calling window in the next 7 days: they are called in the campaign's zone",
    ),
    (
        "quality.no_window",
        "{n} contactos no tienen franja de llamada en los próximos 7 días",
        "{n} contacts have no calling window in the next 7 days",
    ),
    // Errors people meet most, on the `error:` line.
    ("error", "error", "error"),
    ("error.file_missing", "{file} no existe", "{file} does not exist"),
    (
        "error.file_unreadable",
        "no se puede leer {file}: {error}",
        "cannot read {file}: {error}",
    ),
    ("error.csv_invalid", "{file}: {error}", "{file}: {error}"),
    ("error.plain", "{error}", "{error}"),
    (
        "error.config_missing",
        "el archivo de configuración {file} no existe",
        "the configuration file {file} does not exist",
    ),
    (
        "error.config_unreadable",
        "no se puede leer el archivo de configuración {file}: {error}",
        "cannot read the configuration file {file}: {error}",
    ),
    (
        "error.config_invalid",
        "el archivo de configuración {file} no es válido: {error}",
        "the configuration file {file} is invalid: {error}",
    ),
    (
        "error.config_invalid_line",
        "el archivo de configuración {file} no es válido, línea {line}: {error}",
        "the configuration file {file} is invalid, line {line}: {error}",
    ),
    (
        "error.campaign_invalid",
        "{file} no es válido: {error}",
        "{file} is invalid: {error}",
    ),
    (
        "error.campaign_invalid_line",
        "{file} no es válido, línea {line}: {error}",
        "{file} is invalid, line {line}: {error}",
    ),
    (
        "error.no_campaign_folder",
        "no hay ninguna carpeta de campaña \"{id}\" en {dir}",
        "no campaign folder named \"{id}\" in {dir}",
    ),
    (
        "error.no_campaigns_dir",
        "la carpeta de campañas {dir} no existe",
        "the campaigns folder {dir} does not exist",
    ),
    (
        "error.not_a_contact",
        "{phone} no es un contacto de la campaña {campaign} (revise el CSV y su .rejected.csv)",
        "{phone} is not a contact of campaign {campaign} (check the CSV and its .rejected.csv)",
    ),
    (
        "error.no_campaign",
        "no hay ninguna campaña \"{campaign}\" en la base de datos",
        "no campaign named \"{campaign}\" in the database",
    ),
    ("campaign.paused_now", "{campaign}: en pausa", "{campaign}: paused"),
    ("campaign.resumed", "{campaign}: reanudada", "{campaign}: resumed"),
    (
        "error.database",
        "no se puede abrir la base de datos {url}",
        "cannot open the database {url}",
    ),
    (
        "error.database_scheme",
        "no se puede abrir la base de datos {url}: la URL tiene que empezar por sqlite:// o postgres://",
        "cannot open the database {url}: the URL must start with sqlite:// or postgres://",
    ),
    // `pregonero dnc`.
    (
        "dnc.added",
        "{phone} está en la lista de no llamar{when}",
        "{phone} is on the do-not-call list{when}",
    ),
    ("dnc.until", "hasta el {until}", "until {until}"),
    ("dnc.during", "en el horario {hours}", "during {hours}"),
    (
        "dnc.until_during",
        "hasta el {until}, en el horario {hours}",
        "until {until}, during {hours}",
    ),
    (
        "dnc.removed",
        "{phone} ya no está en la lista de no llamar",
        "{phone} removed from the do-not-call list",
    ),
    (
        "dnc.not_listed",
        "{phone} no está en la lista de no llamar",
        "{phone} is not on the do-not-call list",
    ),
    ("dnc.count", "{n} número(s)", "{n} number(s)"),
    (
        "dnc.hashed",
        "{file}: {read} huella(s) leída(s), {added} nueva(s) en la lista de exclusión cifrada",
        "{file}: {read} digest(s) read, {added} new on the hashed exclusion list",
    ),
    (
        "dnc.bad_until",
        "until \"{value}\" no es una fecha (AAAA-MM-DD o DD/MM/AAAA)",
        "until \"{value}\" is not a date (YYYY-MM-DD or DD/MM/YYYY)",
    ),
    ("dnc.unreadable_row", "fila ilegible: {error}", "unreadable row: {error}"),
    (
        "dnc.not_a_digest",
        "{file} línea {line}: se esperaba una huella SHA-256 (64 caracteres hexadecimales) y tiene {chars} caracteres",
        "{file} line {line}: expected a SHA-256 digest (64 hex characters), got {chars} characters",
    ),
    // `pregonero holidays`.
    (
        "holidays.title",
        "Festivos de {year}, calendario {calendar}, {whose}, {for_whom}:",
        "Holidays {year}, calendar {calendar}, {whose}, {for_whom}:",
    ),
    ("holidays.campaign", "campaña {id}", "campaign {id}"),
    ("holidays.province", "provincia {name} ({region})", "province {name} ({region})"),
    ("holidays.for_region", "región {region} ({name})", "region {region} ({name})"),
    (
        "holidays.no_region_any",
        "destinatarios sin región (los días de todas las regiones: unknown_region = \"any\")",
        "callees with no region (every region's days: unknown_region = \"any\")",
    ),
    (
        "holidays.no_region_national",
        "destinatarios sin región (solo días nacionales: unknown_region = \"national\")",
        "callees with no region (national days only: unknown_region = \"national\")",
    ),
    ("holidays.none", "ninguno", "none"),
    (
        "holidays.coverage",
        "(los calendarios regionales integrados cubren {first}-{last}; los demás años solo tienen los días nacionales)",
        "(the built-in regional calendars cover {first}-{last}; other years have the national days only)",
    ),
    ("holidays.bad_year", "--year {year} está fuera de rango", "--year {year} is out of range"),
    (
        "holidays.bad_region",
        "--region \"{region}\" no es una comunidad autónoma (p. ej. CT, Cataluña) ni una provincia (p. ej. Barcelona, 08) de España",
        "--region \"{region}\" is not a Spanish region (e.g. CT, Cataluña) or province (e.g. Barcelona, 08)",
    ),
    ("error.in", "{what}: {error}", "{what}: {error}"),
    // `pregonero agent`.
    (
        "agents.bad_name",
        "el nombre del agente debe tener de 1 a 64 letras, dígitos, '.', '_' o '-'; es \"{value}\"",
        "the agent name must be 1 to 64 letters, digits, '.', '_' or '-', got \"{value}\"",
    ),
    (
        "agents.bad_team",
        "el equipo debe tener de 1 a 64 letras, dígitos, '.', '_' o '-'; es \"{value}\"",
        "the team must be 1 to 64 letters, digits, '.', '_' or '-', got \"{value}\"",
    ),
    (
        "agents.bad_extension",
        "--extension debe tener de 1 a 10 dígitos; es \"{value}\"",
        "--extension must be 1 to 10 digits, got \"{value}\"",
    ),
    (
        "agents.name_taken",
        "ya hay un agente llamado \"{name}\"",
        "there is already an agent named \"{name}\"",
    ),
    (
        "agents.extension_taken",
        "la extensión {extension} es del agente \"{agent}\"",
        "extension {extension} belongs to agent \"{agent}\"",
    ),
    ("agents.not_added", "el agente \"{name}\" no se añadió", "agent \"{name}\" was not added"),
    (
        "agents.added",
        "agente {name} añadido (extensión {extension}{team}); póngale una contraseña con: pregonero agent password {name}",
        "agent {name} added (extension {extension}{team}); set a password with: pregonero agent password {name}",
    ),
    ("agents.with_team", ", equipo {team}", ", team {team}"),
    (
        "agents.none",
        "no hay agentes; añada uno con: pregonero agent add NOMBRE --extension EXT --team EQUIPO",
        "no agents; add one with: pregonero agent add NAME --extension EXT --team TEAM",
    ),
    ("agents.agent", "agente", "agent"),
    ("agents.extension", "extensión", "extension"),
    ("agents.team", "equipo", "team"),
    ("agents.state", "estado", "state"),
    ("agents.since", "desde hace", "since"),
    (
        "agents.no_such",
        "no hay ningún agente llamado \"{name}\"",
        "no agent named \"{name}\"",
    ),
    ("agents.removed", "agente {name} eliminado", "agent {name} removed"),
    ("agents.password_prompt", "contraseña de {name}: ", "password for {name}: "),
    (
        "agents.password_set",
        "contraseña del agente {name} guardada",
        "password of agent {name} set",
    ),
    (
        "agents.password_short",
        "la contraseña debe tener al menos {min} caracteres",
        "the password must have at least {min} characters",
    ),
    // `pregonero import`.
    (
        "import.summary",
        "{file}: {rows} filas leídas, {imported} importadas, {rejected} rechazadas, {duplicates} duplicadas",
        "{file}: {rows} rows read, {imported} imported, {rejected} rejected, {duplicates} duplicates",
    ),
    // The command line itself.
    (
        "cli.cannot_listen",
        "no se puede escuchar en {address}",
        "cannot listen on {address}",
    ),
    (
        "cli.proxy",
        "proxy en http://{address} → {backends} servidor(es)",
        "proxy on http://{address} → {backends} backend(s)",
    ),
    ("cli.cannot_write", "no se puede escribir {file}", "cannot write {file}"),
    (
        "cli.no_runtime",
        "no se puede poner en marcha el entorno de ejecución",
        "cannot start the runtime",
    ),
    (
        "simulate.bad_script",
        "el guion {file} no es válido: {error}",
        "the script {file} is invalid: {error}",
    ),
    // Simulator scripts (`simulate --script`, `simulator.script_file`).
    ("script.empty", "un intento vacío", "an empty attempt"),
    (
        "script.unknown_outcome",
        "`{outcome}` no es un resultado de llamada (answer, busy, noanswer, unreachable, congestion)",
        "`{outcome}` is not a call outcome (answer, busy, noanswer, unreachable, congestion)",
    ),
    (
        "script.no_options",
        "`{kind}` no lleva opciones (llegó `{word}`)",
        "`{kind}` takes no options (got `{word}`)",
    ),
    (
        "script.expected_option",
        "se esperaba opción=valor y llegó `{word}`",
        "expected option=value, got `{word}`",
    ),
    (
        "script.bad_value",
        "{option}=`{value}` no es un número válido",
        "{option}=`{value}` is not a valid number",
    ),
    (
        "script.bad_transfer",
        "transfer=`{value}` no es válido (ok o fail)",
        "transfer=`{value}` is invalid (ok or fail)",
    ),
    (
        "script.unknown_option",
        "`{option}` no es una opción (keys, said, hangup, refuse, transfer, bridge, bridged, ring)",
        "`{option}` is not an option (keys, said, hangup, refuse, transfer, bridge, bridged, ring)",
    ),
    (
        "script.bad_key",
        "`{key}` no es una tecla (dígitos, * o #, o t para que se agote el tiempo)",
        "`{key}` is not a key (digits, * or #, or t for a timeout)",
    ),
    (
        "script.agents_number",
        "agents.{key} tiene que ser un número de 0 o más",
        "agents.{key} must be a number of 0 or more",
    ),
    (
        "script.agents_count",
        "agents.count tiene que ser al menos 1",
        "agents.count must be at least 1",
    ),
    (
        "script.agents_key",
        "`{key}` no es una clave de [agents] (count, bridge, talk, wait)",
        "`{key}` is not an [agents] key (count, bridge, talk, wait)",
    ),
    (
        "script.expected_strings",
        "{dst}: se esperaba un texto o una lista de textos",
        "{dst}: expected a string or an array of strings",
    ),
    ("script.of", "{dst}: {error}", "{dst}: {error}"),
    ("script.syntax", "línea {line}: {error}", "line {line}: {error}"),
    (
        "report.unknown_campaign",
        "no hay ninguna campaña \"{campaign}\" en la base de datos (`pregonero campaigns` las lista)",
        "no campaign named \"{campaign}\" in the database (run `pregonero campaigns` to list them)",
    ),
    (
        "report.unknown_contact",
        "{phone} no es un contacto de la campaña {campaign}",
        "{phone} is not a contact of campaign {campaign}",
    ),
    (
        "report.needs_campaign",
        "indique la campaña: --contacts, --contact, --compliance, --agents y --format html informan de una sola",
        "name the campaign: --contacts, --contact, --compliance, --agents and --format html report one campaign",
    ),
    ("report.bad_phone", "{phone}: {error}", "{phone}: {error}"),
    (
        "report.contact_formats",
        "--contact se imprime como table o json",
        "--contact prints as table or json",
    ),
    (
        "report.compliance_formats",
        "--compliance se imprime como table o json (los informes html lo incluyen)",
        "--compliance prints as table or json (html reports include it)",
    ),
    // Why the dialer stopped launching for every campaign (`run --exit-when-idle` exits).
    (
        "halt.unauthorized",
        "el proveedor rechazó el token o la instancia de la API (401): no se lanza ninguna llamada; corrija provider.token / provider.api y reinicie",
        "the provider rejected the token or the API instance (401): launching stopped for every campaign; fix provider.token / provider.api and restart",
    ),
    (
        "halt.wrong_url",
        "la URL de lanzamiento del proveedor respondió 404 (no existe): no se lanza ninguna llamada; corrija provider.url y reinicie",
        "the provider's launch URL answered 404 (not found): launching stopped for every campaign; fix provider.url and restart",
    ),
    (
        "halt.no_balance",
        "la cuenta del proveedor no tiene saldo (402): no se lanza ninguna llamada; recargue y reinicie",
        "the provider account has no balance (402): launching paused for every campaign; top up and restart",
    ),
    (
        "runtime.sim_listen",
        "no se puede escuchar en un puerto local para el simulador integrado",
        "cannot listen on a loopback port for the built-in simulator",
    ),
    (
        "runtime.sim_start",
        "no se puede poner en marcha el simulador integrado",
        "cannot start the built-in simulator",
    ),
    (
        "runtime.no_token",
        "falta provider.token (o provider.token_file) para llamar por API Voice",
        "provider.token (or provider.token_file) is not set to call through API Voice",
    ),
    (
        "proxy.no_backend",
        "el proxy necesita al menos un --backend",
        "the proxy needs at least one --backend",
    ),
    (
        "runtime.script_file",
        "simulator.script_file {file} no es válido: {error}",
        "simulator.script_file {file} is invalid: {error}",
    ),
    (
        "simulate.bad_key",
        "--keys: `{key}` no es una tecla (dígitos, * o #, o t para que se agote el tiempo)",
        "--keys: `{key}` is not a key (digits, * or #, or t for a timeout)",
    ),
    ("import.progress", "{n} filas leídas…", "{n} rows read…"),
    (
        "import.cannot_list",
        "no se pueden listar los archivos de {dir}: {error}",
        "cannot list the files of {dir}: {error}",
    ),
    (
        "import.thread",
        "la importación se interrumpió: {error}",
        "the import thread failed: {error}",
    ),
    (
        "import.store",
        "la base de datos falló durante la importación: {error}",
        "the database failed during the import: {error}",
    ),
    (
        "import.already",
        "{file}: ya importado, nada que hacer",
        "{file}: already imported, nothing to do",
    ),
    (
        "import.rejects_file",
        "las filas rechazadas, con el motivo, están en {file}",
        "the rejected rows, with the reason, are in {file}",
    ),
    (
        "import.rejects_unwritable",
        "no se pueden escribir las filas rechazadas de {file}: {error}",
        "cannot write the rejected rows of {file}: {error}",
    ),
    (
        "import.template",
        "{file}: {error}",
        "{file}: {error}",
    ),
    // Why a row of a contact list was not imported (`<file>.rejected.csv`, `check`, `import`).
    ("rejects.column", "error", "error"),
    (
        "reject.unclosed_quote",
        "unas comillas (\") de esta fila no se cierran, así que las líneas {from} a {to} se leyeron como parte de ella; cierre o quite esas comillas",
        "a quote (\") in this row is never closed, so lines {from} to {to} were read as part of it; close or remove that quote",
    ),
    (
        "reject.repeated_header",
        "esta fila repite la fila de cabecera (¿se pegaron dos listas?)",
        "this row repeats the header row (were two lists pasted together?)",
    ),
    (
        "reject.time_zone",
        "{column}: \"{value}\" no es una zona horaria; escriba un nombre IANA como Europe/Madrid o Atlantic/Canary",
        "{column}: \"{value}\" is not a time zone; write an IANA name such as Europe/Madrid or Atlantic/Canary",
    ),
    (
        "reject.date_empty",
        "{column} está vacía; formatos admitidos: {accepted}",
        "{column} is empty; accepted formats: {accepted}",
    ),
    (
        "reject.date_empty_but",
        "{column} está vacía pero {other} no; formatos admitidos: {accepted}",
        "{column} is empty but {other} is not; accepted formats: {accepted}",
    ),
    (
        "reject.bad_date",
        "{column}: \"{value}\" {problem}; formatos admitidos: {accepted}",
        "{column}: \"{value}\" {problem}; accepted formats: {accepted}",
    ),
    (
        "reject.no_consent_column",
        "no hay columna consentimiento (consent): esta campaña solo llama a quien lo aceptó, con la fecha en que lo hizo (require_consent = false llama sin ella)",
        "no consentimiento (consent) column: this campaign calls only people who agreed to it, with the date they did (require_consent = false calls without)",
    ),
    (
        "reject.consent_empty",
        "{column} está vacía: esta campaña solo llama a quien lo aceptó, con la fecha en que lo hizo",
        "{column} is empty: this campaign calls only people who agreed to it, with the date they did",
    ),
    (
        "reject.consent_not_a_date",
        "{column}: \"{value}\" no es una fecha; escríbala como 2026-03-01 o 01/03/2026",
        "{column}: \"{value}\" is not a date; write it as 2026-03-01 or 01/03/2026",
    ),
    (
        "reject.consent_in_future",
        "{column}: {value} es una fecha futura",
        "{column}: {value} is in the future",
    ),
    (
        "reject.consent_expired",
        "{column}: el consentimiento dado el {value} caducó tras el {last} (consent_valid_for)",
        "{column}: consent given on {value} expired after {last} (consent_valid_for)",
    ),
    (
        "reject.consent_out_of_range",
        "{column}: {value} está fuera de rango",
        "{column}: {value} is out of range",
    ),
    // Phone numbers (`phone::PhoneError`).
    ("phone.empty", "el número de teléfono está vacío", "the phone number is empty"),
    (
        "phone.letters",
        "\"{value}\" no es un número de teléfono: tiene letras",
        "\"{value}\" is not a phone number: it contains letters",
    ),
    (
        "phone.scientific",
        "\"{value}\" está en notación científica, que pierde cifras: dé formato de texto a la columna del teléfono en Excel y vuelva a exportar el archivo",
        "\"{value}\" is in scientific notation, which loses digits: format the phone column as text in Excel and export the file again",
    ),
    (
        "phone.not_a_number",
        "\"{value}\" no es un número de teléfono",
        "\"{value}\" is not a phone number",
    ),
    (
        "phone.too_short",
        "\"{value}\" es demasiado corto para ser un número de teléfono",
        "\"{value}\" is too short to be a phone number",
    ),
    (
        "phone.too_short_in",
        "\"{value}\" es demasiado corto para un número de teléfono de {country}",
        "\"{value}\" is too short for a phone number in {country}",
    ),
    (
        "phone.too_long",
        "\"{value}\" es demasiado largo para ser un número de teléfono{hint}",
        "\"{value}\" is too long to be a phone number{hint}",
    ),
    (
        "phone.too_long_in",
        "\"{value}\" es demasiado largo para un número de teléfono de {country}{hint}",
        "\"{value}\" is too long for a phone number in {country}{hint}",
    ),
    (
        "phone.two_numbers",
        " (¿dos números en una celda? ponga un número por fila)",
        " (two numbers in one cell? put one number per row)",
    ),
    (
        "phone.no_country_code",
        "\"{value}\" no empieza por un prefijo internacional como +34",
        "\"{value}\" does not start with a country calling code such as +34",
    ),
    (
        "phone.invalid",
        "\"{value}\" no es un número válido en {country}",
        "\"{value}\" is not a valid number in {country}",
    ),
    // Countries of phone numbers (`phone::country_msg`): the common ones by name.
    ("country.ES", "España", "Spain"),
    ("country.PT", "Portugal", "Portugal"),
    ("country.FR", "Francia", "France"),
    ("country.AD", "Andorra", "Andorra"),
    ("country.GI", "Gibraltar", "Gibraltar"),
    ("country.MA", "Marruecos", "Morocco"),
    ("country.GB", "el Reino Unido", "the United Kingdom"),
    ("country.IE", "Irlanda", "Ireland"),
    ("country.DE", "Alemania", "Germany"),
    ("country.IT", "Italia", "Italy"),
    ("country.NL", "los Países Bajos", "the Netherlands"),
    ("country.BE", "Bélgica", "Belgium"),
    ("country.CH", "Suiza", "Switzerland"),
    ("country.RO", "Rumanía", "Romania"),
    ("country.US", "los Estados Unidos", "the United States"),
    ("country.MX", "México", "Mexico"),
    ("country.CO", "Colombia", "Colombia"),
    ("country.AR", "Argentina", "Argentina"),
    ("country.EC", "Ecuador", "Ecuador"),
    ("country.PE", "Perú", "Peru"),
    ("country.VE", "Venezuela", "Venezuela"),
    ("country.iso", "{iso}", "{iso}"),
    (
        "country.calling_code",
        "el país con prefijo +{code}",
        "the country with calling code +{code}",
    ),
    // Dates and times of a contact list (`dates::DateError`): they follow the value.
    ("date.empty", "está vacía", "is empty"),
    ("date.not_datetime", "no es una fecha y hora", "is not a date and time"),
    ("date.not_date", "no es una fecha", "is not a date"),
    ("date.not_time", "no es una hora del día como 09:30", "is not a time of day such as 09:30"),
    ("date.no_time", "tiene fecha pero no hora", "has a date but no time"),
    (
        "date.no_such_month",
        "tiene el mes {month}, que no existe (las fechas son día/mes/año)",
        "has month {month}, which does not exist (dates are day/month/year)",
    ),
    (
        "date.no_such_day",
        "tiene el día {day}, que {month} de {year} no tiene",
        "has day {day}, which {month} {year} does not have",
    ),
    (
        "date.no_such_time",
        "no es una hora del día (horas 0-23, minutos y segundos 0-59)",
        "is not a time of day (hours 0-23, minutes and seconds 0-59)",
    ),
    (
        "date.accepted",
        "DD/MM/AAAA HH:MM (15/03/2026 09:30) o AAAA-MM-DD HH:MM (2026-03-15 09:30)",
        "DD/MM/YYYY HH:MM (15/03/2026 09:30) or YYYY-MM-DD HH:MM (2026-03-15 09:30)",
    ),
    (
        "date.accepted_date",
        "DD/MM/AAAA (15/03/2026) o AAAA-MM-DD (2026-03-15)",
        "DD/MM/YYYY (15/03/2026) or YYYY-MM-DD (2026-03-15)",
    ),
    (
        "date.accepted_time",
        "HH:MM (09:30) o HH:MM:SS (09:30:00)",
        "HH:MM (09:30) or HH:MM:SS (09:30:00)",
    ),
    ("month.1", "enero", "January"),
    ("month.2", "febrero", "February"),
    ("month.3", "marzo", "March"),
    ("month.4", "abril", "April"),
    ("month.5", "mayo", "May"),
    ("month.6", "junio", "June"),
    ("month.7", "julio", "July"),
    ("month.8", "agosto", "August"),
    ("month.9", "septiembre", "September"),
    ("month.10", "octubre", "October"),
    ("month.11", "noviembre", "November"),
    ("month.12", "diciembre", "December"),
    ("month.other", "ese mes", "that month"),
    // Configuration rules (`Config::validate` and the files it names).
    ("config.greater_than_0", "{key} debe ser mayor que 0", "{key} must be greater than 0"),
    ("config.at_least_1", "{key} debe ser al menos 1", "{key} must be at least 1"),
    ("config.between_0_1", "{key} debe estar entre 0 y 1", "{key} must be between 0 and 1"),
    (
        "config.between",
        "{key} debe estar entre {min} y {max}; es {value}",
        "{key} must be between {min} and {max}, got {value}",
    ),
    (
        "config.http_status",
        "{key} debe ser un estado HTTP (100 a 599)",
        "{key} must be an HTTP status (100 to 599)",
    ),
    (
        "config.one_key",
        "{key} debe ser una tecla (0-9, * o #); es \"{value}\"",
        "{key} must be one key (0-9, * or #), got \"{value}\"",
    ),
    ("config.keys_differ", "{a} y {b} deben ser distintas", "{a} and {b} must differ"),
    (
        "config.bad_timezone",
        "{key} \"{value}\" no es una zona horaria IANA como Europe/Madrid",
        "{key} \"{value}\" is not an IANA time zone such as Europe/Madrid",
    ),
    (
        "config.tls_pair",
        "server.tls_cert y server.tls_key deben ponerse juntos",
        "server.tls_cert and server.tls_key must be set together",
    ),
    (
        "config.secret_required",
        "server.secret es obligatorio con provider.kind = \"apivoice\" (protege las URL de los webhooks)",
        "server.secret is required when provider.kind = \"apivoice\" (it protects the webhook URLs)",
    ),
    (
        "config.token_required",
        "provider.token o provider.token_file es obligatorio con provider.kind = \"apivoice\"",
        "provider.token or provider.token_file is required when provider.kind = \"apivoice\"",
    ),
    ("config.empty_file", "{key} {file} está vacío", "{key} {file} is empty"),
    (
        "config.google_key",
        "voice.google_key_file {file}: la clave debe ser una sola palabra en una línea, sin ';' ni espacios",
        "voice.google_key_file {file}: the key must be one word on one line, without ';' or spaces",
    ),
    (
        "config.env_section",
        "la variable de entorno {name} no nombra una sección de la configuración ({sections})",
        "environment variable {name} does not name a config section ({sections})",
    ),
    (
        "config.env_value",
        "la variable de entorno {name} tiene un valor no válido",
        "environment variable {name} has an invalid value",
    ),
    (
        "config.not_table",
        "la clave {section} de la configuración debe ser una tabla",
        "config key {section} must be a table",
    ),
    // TLS files (`check`, `run`).
    (
        "tls.half",
        "server.tls_cert y server.tls_key deben ponerse juntos (solo está {key})",
        "server.tls_cert and server.tls_key must be set together (only {key} is set)",
    ),
    (
        "tls.unreadable",
        "no se puede leer {key} {file}: {error}",
        "cannot read {key} {file}: {error}",
    ),
    (
        "tls.pem",
        "{key} {file} no es PEM válido: {error}",
        "{key} {file} is not valid PEM: {error}",
    ),
    (
        "tls.no_cert",
        "server.tls_cert {file} no tiene ningún certificado (un bloque PEM \"BEGIN CERTIFICATE\")",
        "server.tls_cert {file} holds no certificate (a PEM \"BEGIN CERTIFICATE\" block)",
    ),
    (
        "tls.no_key",
        "server.tls_key {file} no tiene ninguna clave privada (un bloque PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" o \"BEGIN EC PRIVATE KEY\")",
        "server.tls_key {file} holds no private key (a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)",
    ),
    (
        "tls.bad_key",
        "server.tls_key {file} no es una clave privada utilizable: {error}",
        "server.tls_key {file} is not a usable private key: {error}",
    ),
    (
        "tls.mismatch",
        "server.tls_key {key} no corresponde al certificado de server.tls_cert {cert}",
        "server.tls_key {key} does not belong to the certificate in server.tls_cert {cert}",
    ),
    (
        "tls.bad_cert",
        "server.tls_cert {file} no es un certificado utilizable: {error}",
        "server.tls_cert {file} is not a usable certificate: {error}",
    ),
    // Templates of a campaign against the columns of its CSV.
    (
        "template.missing_column",
        "{key} usa {{column}}, que no es una columna del CSV (columnas: {columns})",
        "{key} uses {{column}}, which is not a column of the CSV (columns: {columns})",
    ),
    // The rules of campaign.toml (`check`, `campaigns`, the `error:` line); `{key}` is the key
    // as written in the file.
    (
        "campaign.syntax",
        "línea {line}: {error}",
        "line {line}: {error}",
    ),
    ("rule.required", "{key} es obligatorio", "{key} is required"),
    ("rule.empty", "{key} está vacío", "{key} is empty"),
    (
        "rule.one_key",
        "{key} debe ser una tecla 0-9, * o #; es \"{value}\"",
        "{key} must be one key 0-9, * or #, got \"{value}\"",
    ),
    (
        "rule.keys_clash",
        "{a} y {b} son las dos \"{value}\": cada tecla de un menú debe ser distinta",
        "{a} and {b} are both \"{value}\": each key of a menu must be different",
    ),
    ("rule.key_then", "{key} {error}", "{key} {error}"),
    (
        "rule.target",
        "debe ser queue:NOMBRE, extension:NÚMERO, pstn:+34… o desk:EQUIPO; es \"{value}\"",
        "must be queue:NAME, extension:NUMBER, pstn:+34… or desk:TEAM, got \"{value}\"",
    ),
    (
        "rule.target_queue",
        "debe nombrar una cola con letras, dígitos, '_', '-' o '.'; es \"{value}\"",
        "must name a queue with letters, digits, '_', '-' or '.', got \"{value}\"",
    ),
    (
        "rule.target_extension",
        "debe ser una extensión de 1 a 10 dígitos; es \"{value}\"",
        "must be an extension of 1 to 10 digits, got \"{value}\"",
    ),
    (
        "rule.target_desk",
        "debe nombrar un equipo de 1 a 64 letras, dígitos, '.', '_' o '-'; es \"{value}\"",
        "must name a desk team of 1 to 64 letters, digits, '.', '_' or '-', got \"{value}\"",
    ),
    (
        "rule.target_pstn",
        "debe ser un número internacional como pstn:+34910000000; es \"{value}\"",
        "must be an international number such as pstn:+34910000000, got \"{value}\"",
    ),
    (
        "rule.agent_key_alone",
        "reminder.agent_key necesita reminder.agent, el destino de la transferencia",
        "reminder.agent_key needs reminder.agent, the transfer target",
    ),
    (
        "rule.agent_alone",
        "reminder.agent necesita reminder.agent_key, la tecla que transfiere",
        "reminder.agent needs reminder.agent_key, the key that transfers",
    ),
    (
        "rule.http_url",
        "{key} debe ser una URL http:// o https:// con un host",
        "{key} must be an http:// or https:// URL with a host",
    ),
    (
        "rule.promotion_agent",
        "promotion.agent es obligatorio: adónde se transfiere a los interesados (queue:NOMBRE, extension:NÚMERO o pstn:+34…)",
        "promotion.agent is required: where interested callees are transferred (queue:NAME, extension:NUMBER or pstn:+34…)",
    ),
    (
        "rule.survey_questions",
        "survey necesita al menos una [[survey.questions]] con un texto",
        "survey needs at least one [[survey.questions]] with a text",
    ),
    (
        "rule.question_id",
        "{key} debe tener de 1 a 16 letras, dígitos, '_' o '-'; es \"{value}\"",
        "{key} must be 1 to 16 letters, digits, '_' or '-', got \"{value}\"",
    ),
    (
        "rule.question_id_taken",
        "{key} \"{value}\" ya es el id de {other}",
        "{key} \"{value}\" is already the id of {other}",
    ),
    (
        "rule.question_keys",
        "{key} debe enumerar teclas como \"1-5\", \"0-9\" o \"1,2,3\"; es \"{value}\"",
        "{key} must list keys such as \"1-5\", \"0-9\" or \"1,2,3\", got \"{value}\"",
    ),
    (
        "rule.sales_both",
        "sales tiene queue y agent: ponga solo uno de los dos",
        "sales has both queue and agent: give one of them",
    ),
    (
        "rule.sales_none",
        "sales necesita queue (el nombre de una cola de la centralita) o agent (queue:NOMBRE, extension:NÚMERO o pstn:+34…)",
        "sales needs queue (a PBX queue name) or agent (queue:NAME, extension:NUMBER or pstn:+34…)",
    ),
    (
        "rule.fraction",
        "{key} debe ser una fracción como 0.03 (al menos 0 y menor que 1); es {value}",
        "{key} must be a fraction such as 0.03 (at least 0, below 1), got {value}",
    ),
    (
        "rule.predictive_ratio",
        "{key} debe estar entre 1 (progresivo) y 5; es {value}",
        "{key} must be between 1 (progressive) and 5, got {value}",
    ),
    (
        "rule.at_most",
        "{key} debe ser como mucho {max}; es {value}",
        "{key} must be at most {max}, got {value}",
    ),
    (
        "rule.capture_prompt",
        "{key} es obligatorio: lo que se le pregunta al destinatario",
        "{key} is required: what the callee is asked",
    ),
    (
        "rule.capture_field_missing",
        "{key} es obligatorio: la columna en la que se guarda la transcripción",
        "{key} is required: the column the transcript is stored under",
    ),
    (
        "rule.capture_field",
        "{key} debe tener de 1 a {max} minúsculas, dígitos o '_', empezando por una letra; es \"{value}\"",
        "{key} must be 1 to {max} lowercase letters, digits or '_' starting with a letter, got \"{value}\"",
    ),
    (
        "rule.capture_language",
        "{key} debe ser un código de idioma como \"es\" o \"es-ES\"; es \"{value}\"",
        "{key} must be a language code such as \"es\" or \"es-ES\", got \"{value}\"",
    ),
    (
        "rule.capture_field_taken",
        "{key} \"{value}\" ya es el campo de {other}",
        "{key} \"{value}\" is already the field of {other}",
    ),
    (
        "rule.words_blank",
        "{key} no tiene letras ni dígitos que escuchar",
        "{key} has no letters or digits to listen for",
    ),
    (
        "rule.dispositions_empty",
        "dispositions debe nombrar al menos un resultado",
        "dispositions must name at least one disposition",
    ),
    (
        "rule.disposition_name",
        "dispositions: cada una necesita un nombre de 1 a 64 caracteres",
        "dispositions: each one needs a name of 1 to 64 characters",
    ),
    (
        "rule.disposition_twice",
        "dispositions: \"{name}\" aparece dos veces",
        "dispositions: \"{name}\" is given twice",
    ),
    (
        "rule.events_no_url",
        "events.types está puesto pero falta events.url",
        "events.types is set but events.url is missing",
    ),
    (
        "rule.events_type",
        "events.types: \"{value}\" no es un tipo de evento ({types})",
        "events.types: \"{value}\" is not an event type ({types})",
    ),
    (
        "rule.events_types_empty",
        "events.types está vacío: quítelo para enviar todos los tipos",
        "events.types is empty: leave it out to send every type",
    ),
    (
        "rule.campaign_id",
        "el nombre de la carpeta \"{id}\" es el id de la campaña y solo puede tener letras, dígitos, '-' y '_'",
        "the folder name \"{id}\" is the campaign id and may only hold letters, digits, '-' and '_'",
    ),
    (
        "rule.voice_provider",
        "voice.provider debe ser \"google\" o \"netelip\"; es \"{value}\"",
        "voice.provider must be \"google\" or \"netelip\", got \"{value}\"",
    ),
    (
        "rule.retry_duration",
        "{key}: se esperaba una duración como 30s, 10m, 1h o 2d; es \"{value}\"",
        "{key}: expected a duration such as 30s, 10m, 1h or 2d, got \"{value}\"",
    ),
    (
        "rule.retry_unknown",
        "{key} no es una regla de reintento (busy, no_answer, failed, unreachable)",
        "{key} is not a retry rule (busy, no_answer, failed, unreachable)",
    ),
    (
        "rule.date",
        "{key} \"{value}\" no es una fecha de la forma AAAA-MM-DD",
        "{key} \"{value}\" is not a date in the form YYYY-MM-DD",
    ),
    (
        "rule.end_before_start",
        "end {end} es anterior a start {start}",
        "end {end} is before start {start}",
    ),
    (
        "rule.call_before",
        "reminder.call_before: se esperaba una duración como 24h o 90m; es \"{value}\"",
        "reminder.call_before: expected a duration such as 24h or 90m, got \"{value}\"",
    ),
    (
        "rule.other_section",
        "tiene una sección [{section}] pero kind = \"{kind}\"",
        "has a [{section}] section but kind = \"{kind}\"",
    ),
    (
        "rule.missing_section",
        "kind = \"{kind}\" necesita una sección [{kind}]",
        "kind = \"{kind}\" needs a [{kind}] section",
    ),
    (
        "rule.consent_valid_for",
        "consent_valid_for: se esperaba una duración como \"24 months\", \"2 years\" o \"90 days\"; es \"{value}\"",
        "consent_valid_for: expected a duration such as \"24 months\", \"2 years\" or \"90 days\", got \"{value}\"",
    ),
    (
        "rule.unknown_region",
        "unknown_region \"{value}\": se esperaba \"national\" (solo días nacionales) o \"any\" (no se llama en el festivo de ninguna región)",
        "unknown_region \"{value}\": expected \"national\" (national days only) or \"any\" (no call on any region's holiday)",
    ),
    (
        "rule.holiday_region",
        "holiday_region \"{value}\" no es una región de España (un código ISO 3166-2:ES como CT o MD, o un nombre como Cataluña)",
        "holiday_region \"{value}\" is not a Spanish region (an ISO 3166-2:ES code such as CT or MD, or a name such as Cataluña)",
    ),
    (
        "rule.holiday_calendar",
        "holiday_calendar \"{value}\" no es un calendario conocido (se esperaba \"ES\" o \"none\")",
        "holiday_calendar \"{value}\" is not a known calendar (expected \"ES\" or \"none\")",
    ),
    (
        "rule.calendar_year",
        "holiday_calendar \"{value}\": el año {year} está fuera de rango",
        "holiday_calendar \"{value}\": year {year} is out of range",
    ),
    (
        "rule.holiday_date",
        "holidays \"{value}\": se esperaba una fecha AAAA-MM-DD, p. ej. \"2026-05-15\", seguida si acaso de una región o provincia (\"2026-09-24 Barcelona\")",
        "holidays \"{value}\": expected a date as YYYY-MM-DD, e.g. \"2026-05-15\", optionally followed by a region or province (\"2026-09-24 Barcelona\")",
    ),
    (
        "rule.holiday_place",
        "holidays \"{value}\": \"{place}\" no es una comunidad autónoma (p. ej. CT, Cataluña) ni una provincia (p. ej. Barcelona, 08) de España",
        "holidays \"{value}\": \"{place}\" is not a Spanish region (e.g. CT, Cataluña) or province (e.g. Barcelona, 08)",
    ),
    (
        "rule.schedule_fields",
        "schedule \"{line}\" debe tener cinco campos: minuto hora día-del-mes mes día-de-la-semana (p. ej. \"0 9 * * mon-fri\")",
        "schedule \"{line}\" must have five fields: minute hour day-of-month month day-of-week (e.g. \"0 9 * * mon-fri\")",
    ),
    (
        "rule.schedule_weekday",
        "schedule \"{line}\": {value} no es un día de la semana (0-7)",
        "schedule \"{line}\": {value} is not a weekday (0-7)",
    ),
    (
        "rule.schedule_invalid",
        "schedule \"{line}\" no es una línea de crontab válida: {error}",
        "schedule \"{line}\" is not a valid crontab line: {error}",
    ),
    (
        "rule.schedule_never",
        "schedule \"{line}\" no se cumple nunca",
        "schedule \"{line}\" never fires",
    ),
    // Weekly calling hours (`hours`, `dnc --hours`).
    ("hours.line", "horario \"{line}\": {error}", "hours \"{line}\": {error}"),
    (
        "hours.expected",
        "se esperaba DÍAS HH:MM-HH:MM, p. ej. \"mon-fri 09:00-21:00\"",
        "expected DAYS HH:MM-HH:MM, e.g. \"mon-fri 09:00-21:00\"",
    ),
    (
        "hours.backwards",
        "{start}-{end} no termina después de empezar; un tramo no puede pasar de medianoche, así que escríbalo en dos líneas (p. ej. \"mon 22:00-24:00\" y \"tue 00:00-06:00\")",
        "{start}-{end} does not end after it starts; a range cannot cross midnight, so write it as two lines (e.g. \"mon 22:00-24:00\" and \"tue 00:00-06:00\")",
    ),
    (
        "hours.not_a_day",
        "\"{value}\" no es un día ({days})",
        "\"{value}\" is not a day ({days})",
    ),
    (
        "hours.not_a_time",
        "\"{value}\" no es una hora (HH:MM de 00:00 a 24:00)",
        "\"{value}\" is not a time (HH:MM from 00:00 to 24:00)",
    ),
    // Local holidays of the configuration (`holidays`, `explain`).
    ("holiday.local", "Fiesta local", "Local holiday"),
    ("holiday.as_written", "{text}", "{text}"),
    ("holiday.scope_local", "local", "local"),
    ("holiday.scope_local_in", "local, {place}", "local, {place}"),
    // A contact list that cannot be read as a whole (`check`, `import`).
    (
        "csv.empty",
        "el archivo está vacío: hace falta una fila de cabecera con una columna de teléfono",
        "the file is empty: a header row with a phone column is required",
    ),
    (
        "csv.header_is_data",
        "la primera fila ({columns}) tiene un número de teléfono, no nombres de columna: añada una fila de cabecera como telefono;nombre",
        "the first row ({columns}) holds a phone number, not column names: add a header row such as telefono;nombre",
    ),
    (
        "csv.no_phone_column",
        "no hay columna de teléfono en la cabecera ({columns}); llámela telefono, teléfono, movil, móvil, tel, numero, phone o mobile",
        "no phone column in the header ({columns}); name it telefono, teléfono, movil, móvil, tel, numero, phone or mobile",
    ),
    (
        "csv.changed",
        "el archivo cambió mientras se leía (¿se está escribiendo todavía?)",
        "the file changed while it was being read (is it still being written?)",
    ),
    (
        "csv.row_too_long",
        "línea {line}: la fila que empieza aquí ocupa más de 1 MB, así que probablemente unas comillas (\") no se cierran; cierre o quite esas comillas",
        "line {line}: the row that starts here runs on for more than 1 MB, so a quote (\") in it is probably never closed; close or remove that quote",
    ),
    ("csv.line", "línea {line}: {error}", "line {line}: {error}"),
    // `test-call`'s refusals before it calls.
    ("testcall.bad_phone", "{phone}: {error}", "{phone}: {error}"),
    (
        "testcall.no_campaign",
        "la campaña {id} no está en {dir}",
        "campaign {id} is not in {dir}",
    ),
    (
        "testcall.needs_campaign",
        "test-call con el proveedor real necesita --campaign ID: su caller_id debe ser un número de la cuenta",
        "test-call with the real provider needs --campaign ID: its caller_id must be a number of the account",
    ),
    (
        "testcall.tls",
        "test-call sirve HTTP sin cifrar: con server.tls_cert, ejecútelo detrás del proxy o sin el TLS integrado",
        "test-call serves plain HTTP: with server.tls_cert set, run it behind the proxy or without the built-in TLS",
    ),
    (
        "testcall.no_secret",
        "server.secret no está definido: las URL del panel de netelip deben terminar con él (vea `pregonero check`)",
        "server.secret is not set: the URLs in netelip's panel must end with it (see `pregonero check`)",
    ),
    (
        "testcall.cannot_listen",
        "no se puede escuchar en {address} ({error}); pare `pregonero run` para la llamada de prueba",
        "cannot listen on {address} ({error}); stop `pregonero run` for the test call",
    ),
    (
        "testcall.no_token",
        "una llamada real necesita provider.token o provider.token_file",
        "provider.token or provider.token_file is needed for a real call",
    ),
    // The summary table of `report` (the default format).
    (
        "table.heading",
        "{campaign} ({kind}) — {contacts} contactos",
        "{campaign} ({kind}) — {contacts} contacts",
    ),
    ("table.states", "estados:", "states:"),
    ("table.attempts", "intentos:", "attempts:"),
    ("table.talk", "tiempo hablado", "talk time"),
    ("table.cost", "coste", "cost"),
    ("table.answers", "respuestas", "answers"),
    (
        "table.abandoned",
        "abandonadas en 30 días: {abandoned} de {answered} contestadas ({rate})",
        "abandoned in 30 days: {abandoned} of {answered} answered ({rate})",
    ),
    (
        "table.inbound",
        "llamadas entrantes: {calls} ({matched} de contactos, {to_agent} pasadas a un agente, {opted_out} bajas, {confirmed} confirmadas, {cancelled} anuladas, {callbacks_open} por devolver)",
        "inbound calls: {calls} ({matched} matched, {to_agent} to an agent, {opted_out} opted out, {confirmed} confirmed, {cancelled} cancelled, {callbacks_open} callbacks open)",
    ),
    ("table.dispositions", "resultados del agente:", "dispositions:"),
    ("table.none_recorded", "ninguno anotado", "none recorded"),
    ("table.agent", "agente", "agent"),
    ("table.agent_calls", "llamadas", "calls"),
    ("table.agent_missed", "no atendidas", "missed"),
    ("table.agent_talk", "habladas s", "talk s"),
    ("table.agent_wrapup", "cierre s", "wrap-up s"),
    ("table.agent_idle", "espera s", "idle s"),
    ("table.dispositions_column", "resultados", "dispositions"),
    // One contact's timeline (`report --contact`).
    (
        "timeline.heading",
        "{phone}{name} — campaña {campaign}: {state}",
        "{phone}{name} — campaign {campaign}: {state}",
    ),
    ("timeline.never_called", "nunca llamado", "never called"),
    (
        "timeline.attempt",
        "intento nº {number} reservado {at}",
        "attempt #{number} claimed {at}",
    ),
    ("timeline.call", ", llamada {call}", ", call {call}"),
    ("timeline.kind.start", "inicio", "start"),
    ("timeline.kind.result", "resultado", "result"),
    ("timeline.kind.end", "fin", "end"),
    ("timeline.kind.error", "error", "error"),
    ("timeline.status", "estado", "status"),
    ("timeline.keys", "teclas", "keys"),
    ("timeline.command", "orden", "command"),
    (
        "timeline.report_line",
        "{at} línea del informe: {status} {seconds} s, {cost} € (inicio {start})",
        "{at} report line: {status} {seconds} s, {cost} € (start {start})",
    ),
    ("timeline.ended", "{at} terminada", "{at} ended"),
    ("timeline.talk", "hablado", "talk"),
    (
        "timeline.disposition",
        "{at} resultado anotado por {agent}: {disposition}",
        "{at} disposition by {agent}: {disposition}",
    ),
    ("timeline.call_back", " (volver a llamar {at})", " (call back {at})"),
    (
        "timeline.inbound",
        "llamada entrante {at} de {caller} a {did}: {route}",
        "inbound call {at} from {caller} to {did}: {route}",
    ),
    ("timeline.said_failed", "(la transcripción falló)", "(transcription failed)"),
    ("timeline.said_nothing", "(no se entendió nada)", "(nothing understood)"),
    ("timeline.said", "dijo {field} a las {at}: {said}", "said {field} at {at}: {said}"),
    (
        "timeline.total",
        "total hablado {talk} s, coste {cost} €",
        "total talk {talk} s, cost {cost} €",
    ),
    // The transcript and verdicts of `pregonero test-call` (the wire fields stay as sent).
    (
        "testcall.header",
        "llamada de prueba a {phone} desde {caller_id} por {url}",
        "test call to {phone} from {caller_id} via {url}",
    ),
    (
        "testcall.control_url",
        "URL de control (como en el panel): {url}",
        "control URL (as in the panel): {url}",
    ),
    (
        "testcall.report_url",
        "URL de informe (como en el panel): {url}",
        "report URL (as in the panel):  {url}",
    ),
    ("testcall.redacted", "[oculto]", "[redacted]"),
    ("testcall.launch", "→ lanzamiento: {fields}", "→ launch: {fields}"),
    (
        "testcall.launch_reply",
        "← respuesta al lanzamiento: {reply}",
        "← launch reply: {reply}",
    ),
    ("testcall.route.control", "control", "control"),
    ("testcall.route.report", "informe", "report"),
    (
        "testcall.request",
        "← petición de {route}: {fields}",
        "← {route} request: {fields}",
    ),
    ("testcall.reply", "→ respuesta: {reply}", "→ reply: {reply}"),
    ("testcall.not_json_array", "(no es un array JSON)", "(not a JSON array)"),
    ("testcall.verdicts", "veredictos:", "verdicts:"),
    ("testcall.seen.holds", "ok", "ok"),
    ("testcall.seen.differs", "DIFERENTE", "DIFFERS"),
    ("testcall.seen.not_seen", "no visto", "not seen"),
    ("testcall.none", "ninguno", "none"),
    ("testcall.shape.00", "00 + {n} cifras", "00 + {n} digits"),
    ("testcall.shape.plus", "+ y {n} cifras", "+ and {n} digits"),
    ("testcall.shape.34", "34 + 9 cifras", "34 + 9 digits"),
    ("testcall.shape.digits", "{n} cifras", "{n} digits"),
    (
        "testcall.a.launch_reply",
        "la respuesta al lanzamiento es {\"response\":\"200\",\"ID\":…}",
        "launch reply is {\"response\":\"200\",\"ID\":…}",
    ),
    (
        "testcall.a.control_called",
        "el proveedor llama a la URL de control",
        "the provider calls the control URL",
    ),
    (
        "testcall.d.no_control",
        "no llegó ninguna petición de control (¿URL en el panel, dirección pública, cortafuegos?)",
        "no control request arrived (URL in the panel, public address, firewall?)",
    ),
    (
        "testcall.a.control_fields",
        "las peticiones de control traen los campos documentados",
        "control requests carry the documented fields",
    ),
    (
        "testcall.d.control_fields",
        "{n} petición(es); faltan: {missing}; no documentados: {extra}",
        "{n} request(s); missing: {missing}; not documented: {extra}",
    ),
    (
        "testcall.a.id",
        "`ID` es el ID de la respuesta al lanzamiento",
        "`ID` is the launch reply's ID",
    ),
    (
        "testcall.d.id",
        "lanzamiento {launch}, peticiones {requests}",
        "launch {launch}, requests {requests}",
    ),
    (
        "testcall.a.userdata",
        "`userdata` vuelve en cada petición de control",
        "`userdata` is echoed in every control request",
    ),
    ("testcall.d.userdata", "enviado {userdata}", "sent {userdata}"),
    (
        "testcall.a.api",
        "`api` nombra la instancia (provider.api)",
        "`api` names the instance (provider.api)",
    ),
    (
        "testcall.d.api",
        "se esperaba \"{api}\", llegó {got}",
        "expected \"{api}\", got {got}",
    ),
    (
        "testcall.a.userfield",
        "el `userfield` de una respuesta vuelve en la petición siguiente",
        "`userfield` of a reply comes back in the next request",
    ),
    (
        "testcall.a.number_formats",
        "formato de los números en las peticiones de control",
        "number formats in control requests",
    ),
    (
        "testcall.a.statuscall",
        "los valores de `statuscall` están entre ANSWER, BUSY, NOANSWER, CHANUNAVAIL, CANCEL, CONGESTION, UNKNOW",
        "`statuscall` values are among ANSWER, BUSY, NOANSWER, CHANUNAVAIL, CANCEL, CONGESTION, UNKNOW",
    ),
    ("testcall.d.seen", "vistos: {values}", "seen {values}"),
    (
        "testcall.a.dtmf",
        "la tecla pulsada llega en `dtmf`",
        "the key pressed comes in `dtmf`",
    ),
    (
        "testcall.d.no_menu_result",
        "ninguna petición con el resultado de `speak_getdtmf` (¿contestó la llamada?)",
        "no result request for `speak_getdtmf` (did the callee answer?)",
    ),
    (
        "testcall.d.dtmf_timeout",
        "dtmf=timeout: no se pulsó ninguna tecla a tiempo",
        "dtmf=timeout: no key was pressed in time",
    ),
    (
        "testcall.d.dtmf_elsewhere",
        "dtmf={dtmf}; cifras sueltas en otros campos: {elsewhere}",
        "dtmf={dtmf}; single digits elsewhere: {elsewhere}",
    ),
    (
        "testcall.a.ended",
        "la llamada termina con una petición de fin (`statuscall` distinto de ANSWER)",
        "the call ends with an end request (`statuscall` not ANSWER)",
    ),
    (
        "testcall.d.not_ended",
        "ninguna antes del tiempo límite",
        "none before the timeout",
    ),
    (
        "testcall.a.report_arrives",
        "llega un informe de llamadas con la llamada",
        "a call report arrives with the call",
    ),
    (
        "testcall.d.no_report",
        "ninguno antes de acabar la espera (netelip los envía cada 10 minutos más o menos: --report-wait)",
        "none before the wait ended (netelip sends them about every 10 minutes: --report-wait)",
    ),
    (
        "testcall.a.calls_json",
        "el campo `calls` del informe es un array JSON dentro de un texto",
        "the report's `calls` field is a JSON array in a string",
    ),
    (
        "testcall.d.batches",
        "{batches} lote(s), {lines} línea(s)",
        "{batches} batch(es), {lines} line(s)",
    ),
    (
        "testcall.a.line_id",
        "una línea del informe trae el ID de la llamada",
        "a report line carries the call's ID",
    ),
    (
        "testcall.d.no_line",
        "ninguna línea con el ID de esta llamada",
        "no line with this call's ID",
    ),
    (
        "testcall.a.report_keys",
        "la línea del informe tiene las claves documentadas",
        "the report line has the documented keys",
    ),
    ("testcall.d.missing", "faltan: {missing}", "missing: {missing}"),
    (
        "testcall.a.types",
        "`duration` es un texto y `cost` un número",
        "`duration` is a string, `cost` a number",
    ),
    (
        "testcall.a.status_case",
        "el `status` del informe va en minúsculas (answer, busy…)",
        "the report's `status` is lower case (answer, busy…)",
    ),
    (
        "doctor.panel_control_url",
        "  URL de control:             {url}",
        "  control URL:     {url}",
    ),
    (
        "doctor.panel_report_url",
        "  URL de informe de llamadas: {url}",
        "  call report URL: {url}",
    ),
    (
        "agents.cannot_read_password",
        "no se puede leer la contraseña de la entrada estándar: {error}",
        "cannot read the password from standard input: {error}",
    ),
    // Address blocks (`server.allow_from`, `server.trusted_proxies`).
    (
        "cidr.bad",
        "`{value}` no es una dirección IP ni un bloque CIDR (como 203.0.113.0/24)",
        "`{value}` is not an IP address or a CIDR block (like 203.0.113.0/24)",
    ),
];

/// A message for people kept as data: a catalogue key and its named arguments, rendered in the
/// reader's language when shown ([`Lang::render`]). Stored and sent as JSON with the key as its
/// stable identifier (`{"key": "why.outside_hours", "args": {...}}`); [`Msg::to_stored`] and
/// [`Lang::stored`] are that round trip, and text that is not such a message (older rows) is
/// shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Msg {
    pub key: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub args: std::collections::BTreeMap<String, Arg>,
}

/// An argument of a [`Msg`]: text shown as it is, an instant written the reader's way, or
/// another message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Arg {
    Text(String),
    /// An instant on the wall clock of `tz`, as short as is clear from `from`: `10:00` the same
    /// local day, `Wed 09:00` / `mié 09:00` within a week, else `2027-01-07 09:00`.
    Clock {
        clock: i64,
        from: i64,
        tz: String,
    },
    /// An instant in full, with its zone: `Tue 24 Nov 2026 10:00 (Europe/Madrid)`.
    Time {
        at: i64,
        tz: String,
    },
    Msg(Box<Msg>),
}

impl Msg {
    pub fn new(key: &str) -> Msg {
        Msg {
            key: key.to_string(),
            args: Default::default(),
        }
    }

    /// With a text argument.
    pub fn arg(mut self, name: &str, value: impl std::fmt::Display) -> Msg {
        self.args
            .insert(name.to_string(), Arg::Text(value.to_string()));
        self
    }

    /// With an instant shown in full in `tz`.
    pub fn time(mut self, name: &str, at: DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> Msg {
        self.args.insert(
            name.to_string(),
            Arg::Time {
                at: at.timestamp_millis(),
                tz: tz.name().to_string(),
            },
        );
        self
    }

    /// With an instant shown on the wall clock of `tz`, as short as is clear from `from`.
    pub fn clock(
        mut self,
        name: &str,
        from: DateTime<chrono::Utc>,
        clock: DateTime<chrono::Utc>,
        tz: chrono_tz::Tz,
    ) -> Msg {
        self.args.insert(
            name.to_string(),
            Arg::Clock {
                clock: clock.timestamp_millis(),
                from: from.timestamp_millis(),
                tz: tz.name().to_string(),
            },
        );
        self
    }

    /// With another message as an argument.
    pub fn msg(mut self, name: &str, m: Msg) -> Msg {
        self.args.insert(name.to_string(), Arg::Msg(Box::new(m)));
        self
    }

    /// A file that cannot be read: missing, or the system's reason.
    pub fn read_error(path: &std::path::Path, e: &std::io::Error) -> Msg {
        if e.kind() == std::io::ErrorKind::NotFound {
            Msg::new("error.file_missing").arg("file", path.display())
        } else {
            Msg::new("error.file_unreadable")
                .arg("file", path.display())
                .arg("error", e)
        }
    }

    /// The JSON form kept in the database.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.key.clone())
    }

    /// Parses the stored form; `None` for plain text.
    pub fn from_stored(text: &str) -> Option<Msg> {
        if !text.starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// An error whose sentence people read in their language: a catalogue key and its arguments,
/// and the error it comes from, if any (said after it). Its `Display` is the Spanish text (the
/// default language); the top-level error line renders it in the configured one
/// ([`Lang::error_line`]).
#[derive(Debug)]
pub struct UserError {
    pub msg: Msg,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl UserError {
    pub fn new(msg: Msg) -> UserError {
        UserError { msg, source: None }
    }

    /// With the error that caused it.
    pub fn because(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> UserError {
        self.source = Some(source.into());
        self
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Lang::Es.render(&self.msg))
    }
}

impl std::error::Error for UserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Short weekday names, Monday first.
const WEEKDAYS_ES: [&str; 7] = ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"];
const WEEKDAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Short month names, January first.
const MONTHS_ES: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn millis(v: i64) -> DateTime<chrono::Utc> {
    chrono::Utc
        .timestamp_millis_opt(v)
        .single()
        .unwrap_or_default()
}

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

    /// The text of a key with its `{name}` placeholders filled.
    pub fn fill(self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut out = self.text(key).to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), &value.to_string());
        }
        out
    }

    /// A message in this language.
    pub fn render(self, m: &Msg) -> String {
        let mut out = self.text(&m.key).to_string();
        for (name, value) in &m.args {
            let text = match value {
                Arg::Text(t) => t.clone(),
                Arg::Msg(inner) => self.render(inner),
                Arg::Time { at, tz } => {
                    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
                    self.local(millis(*at), tz)
                }
                Arg::Clock { clock, from, tz } => {
                    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
                    self.wall_clock(millis(*from), millis(*clock), tz)
                }
            };
            out = out.replace(&format!("{{{name}}}"), &text);
        }
        out
    }

    /// Stored text for people: a stored [`Msg`] rendered in this language, anything else as it
    /// is.
    pub fn stored(self, text: &str) -> String {
        match Msg::from_stored(text) {
            Some(m) => self.render(&m),
            None => text.to_string(),
        }
    }

    /// An error and its causes on one line, each cause said once (a cause whose text its
    /// parent's message already holds is left out); a [`UserError`] in this language.
    pub fn error_line(self, e: &anyhow::Error) -> String {
        let mut out = String::new();
        for cause in e.chain() {
            let text = match cause.downcast_ref::<UserError>() {
                Some(u) => self.render(&u.msg),
                None => cause.to_string(),
            };
            if out.contains(&text) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        out
    }

    /// An instant in full in a zone: `mar 24 nov 2026 10:00 (Europe/Madrid)` /
    /// `Tue 24 Nov 2026 10:00 (Europe/Madrid)`.
    pub fn local(self, t: DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
        let l = t.with_timezone(&tz);
        format!(
            "{} {:02} {} {} {:02}:{:02} ({})",
            self.weekday(l.weekday()),
            l.day(),
            self.month(l.month0()),
            l.year(),
            l.hour(),
            l.minute(),
            tz.name()
        )
    }

    /// `when` on the wall clock of `tz`, as short as is clear from `at`: `10:00` the same local
    /// day, `mié 09:00` / `Wed 09:00` within a week, else `2027-01-07 09:00`.
    pub fn wall_clock(
        self,
        at: DateTime<chrono::Utc>,
        when: DateTime<chrono::Utc>,
        tz: chrono_tz::Tz,
    ) -> String {
        let (from, to) = (at.with_timezone(&tz), when.with_timezone(&tz));
        match (to.date_naive() - from.date_naive()).num_days() {
            0 => to.format("%H:%M").to_string(),
            1..=6 => format!("{} {}", self.weekday(to.weekday()), to.format("%H:%M")),
            _ => to.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// A short weekday name: `mié` / `Wed`.
    pub fn weekday(self, d: chrono::Weekday) -> &'static str {
        let i = d.num_days_from_monday() as usize;
        match self {
            Lang::Es => WEEKDAYS_ES[i],
            Lang::En => WEEKDAYS_EN[i],
        }
    }

    fn month(self, month0: u32) -> &'static str {
        match self {
            Lang::Es => MONTHS_ES[month0 as usize],
            Lang::En => MONTHS_EN[month0 as usize],
        }
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

    fn placeholders(text: &str) -> std::collections::BTreeSet<&str> {
        text.split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect()
    }

    #[test]
    fn every_key_has_a_text_in_every_language() {
        let mut keys = std::collections::BTreeSet::new();
        for (key, es, en) in CATALOGUE {
            assert!(keys.insert(*key), "key {key} twice in the catalogue");
            assert!(!es.trim().is_empty(), "key {key} has no Spanish text");
            assert!(!en.trim().is_empty(), "key {key} has no English text");
            assert_eq!(
                placeholders(es),
                placeholders(en),
                "key {key}: the languages fill different {{placeholders}}"
            );
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
            ids.extend(kind.states().iter().map(|s| s.as_str()));
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
