//! End-to-end tests of the `weft` binary: real processes, real files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod browser;
mod cli;
mod community;
mod content;
mod demo;
mod edge;
mod feeds;
mod files;
mod harness;
mod hostile;
mod library;
mod mail;
mod net;
mod trust;
mod ui;
