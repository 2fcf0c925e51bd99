//! relais: a feed aggregator and syndication daemon for a network of partner
//! organisations.
//!
//! The pipeline, one module per stage (see ARCHITECTURE.md):
//! `config → fetch → parse → normalise → store`, driven by `refresh` (one source, top to
//! bottom) and `poll` (when), exposed by `server` (HTTP) and `cli`.

pub mod alerts;
// The CLI's doc comments are clap's --help text, printed as written (URLs, `[[source]]`),
// not Markdown.
#[allow(rustdoc::bare_urls, rustdoc::broken_intra_doc_links)]
pub mod cli;
pub mod config;
pub mod control;
pub mod curate;
pub mod daemon;
pub mod dedup_eval;
pub mod digest;
pub mod entities;
pub mod fetch;
pub mod health;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod normalise;
pub mod notify;
pub mod opml;
pub mod parse;
pub mod poll;
pub mod progress;
pub mod publish;
pub mod refresh;
pub mod reload;
pub mod render;
pub mod server;
pub mod store;
pub mod stories;
pub mod websub;
