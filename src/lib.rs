//! parley: an IRC chat server built for very high connection counts.
//!
//! Data flows one way: socket -> [`reactor`] -> decoded line ([`bus`]) ->
//! [`worker`] -> [`commands`] against [`state`] -> encoded reply ([`protocol`])
//! -> reactor -> socket. [`server`] wires it together; [`config`] holds every
//! setting.

pub mod accounts;
pub mod bus;
pub mod client;
pub mod commands;
pub mod config;
pub mod protocol;
pub mod reactor;
pub mod server;
pub mod state;
pub mod web;
pub mod worker;

pub use config::Config;
pub use reactor::ListenKind;
pub use server::{Server, ServerHandle, Stopper};
