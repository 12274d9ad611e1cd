//! Integration tests: the real Application and the real binary, over real HTTP, against the
//! simulator, on SQLite and on PostgreSQL.

mod assumptions;
mod callbacks;
mod cli_language;
mod cluster;
mod consent;
mod csv_office;
mod dashboard;
mod desk;
mod desk_browser;
mod desk_cluster;
mod dialing;
mod doctor;
mod e2e;
mod events;
mod fuzz_corpus;
mod helpers;
mod holidays;
mod inbound;
mod provider_replies;
mod reminders;
mod reports;
mod shutdown;
mod speech;
mod states;
mod systemd;
mod tls;
mod together;
mod transfers;
mod unknowns;
mod watch;
mod webhooks;
mod windows;
