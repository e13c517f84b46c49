//! `parley`, the terminal chat client, as a library so it can be tested.
//!
//! The parts, each in its own module:
//! - [`net`]: the TCP connection (reader thread, writes).
//! - [`event`]: server lines (parsed by the shared [`crate::protocol`]) to
//!   display events.
//! - [`format`]: display events to text lines (pure, colour and stamps).
//! - [`input`]: typed lines to chat text or slash commands (pure).
//! - [`session`]: the loop tying them together: registration, nick and channel
//!   tracking, PING, reconnects, and turning commands into protocol lines.
//! - [`terminal`]: the two front ends, an interactive line editor and plain
//!   line-by-line standard input for scripts.
//!
//! Every source of input (the socket's reader thread and the keyboard or
//! stdin thread) sends an [`Incoming`] to one channel that the session loop
//! reads, so all state lives on one thread and nothing is locked.

pub mod event;
pub mod format;
pub mod input;
pub mod net;
pub mod session;
pub mod terminal;

pub use session::{Ask, Session, Ui};

/// Everything that can wake the session loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A line from connection number `.0` (without CRLF).
    Line(u64, String),
    /// Connection number `.0` closed, with an I/O error if there was one.
    Closed(u64, Option<String>),
    /// A line the person typed (or the next line of a script).
    Input(String),
    /// The person or the script has nothing more to say (EOF, Ctrl-D, Ctrl-C).
    InputEnd,
}

/// How a TLS connection checks the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Against the public web roots (webpki-roots).
    Verified,
    /// Not at all (self-signed test servers); says so when connecting.
    Insecure,
}

/// How the client was asked to run (from the command line).
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    /// The name to use; `None` asks for one.
    pub nick: Option<String>,
    /// Room to join once connected (`None`: join nothing).
    pub channel: Option<String>,
    /// Connect again, with a growing delay, when the server goes away.
    pub reconnect: bool,
    /// Use TLS, and how to check the server's certificate.
    pub tls: Option<Tls>,
    /// A person at a terminal: a refused name is asked again. Otherwise
    /// (a script) it is an error.
    pub interactive: bool,
    /// ANSI colours in output.
    pub color: bool,
    /// `[HH:MM]` before each line.
    pub timestamps: bool,
}
