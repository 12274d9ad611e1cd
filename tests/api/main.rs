//! Integration tests: the real Application and the real binary, over real HTTP, against the
//! simulator, on SQLite and on PostgreSQL.

mod cluster;
mod dashboard;
mod dialing;
mod e2e;
mod fuzz_corpus;
mod helpers;
mod provider_replies;
mod reminders;
mod reports;
mod shutdown;
mod speech;
mod systemd;
mod tls;
mod watch;
mod webhooks;
mod windows;
