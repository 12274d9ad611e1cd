//! pregonero: an outbound campaign dialer daemon for netelip's API Voice.
//!
//! Data flows one way: campaign folders → store → scheduler → dialer → provider → (the call
//! rings) → webhook (call flow, reports) → store → report.

pub mod app;
pub mod breaker;
pub mod callbacks;
pub mod calls;
pub mod campaign;
pub mod capture;
pub mod check;
pub mod cidr;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod desk;
pub mod dialer;
pub mod doctor;
pub mod events;
pub mod exclusion;
pub mod flow;
pub mod guard;
pub mod i18n;
pub mod liveness;
pub mod metrics;
#[cfg(test)]
mod module_graph;
pub mod notify;
pub mod pacing;
pub mod provider;
pub mod proxy;
pub mod report;
pub mod schedule;
pub mod sdnotify;
pub mod service;
pub mod simulator;
pub mod store;
pub mod telemetry;
#[doc(hidden)]
pub mod testcall;
pub mod testing;
pub mod text;
pub mod tls;
pub mod watch;
pub mod webhook;
