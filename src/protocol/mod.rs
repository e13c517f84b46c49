//! The IRC wire format: parsing received lines, encoding lines to send, and the
//! rules for comparing names.
//!
//! This module owns bytes-to-message and message-to-bytes, nothing else: it holds
//! no connection or server state, performs no I/O and knows nothing of commands'
//! meaning. The server, the CLI client and the load generator all share it.

mod casemap;
mod encode;
mod message;
pub mod numeric;

pub use casemap::{irc_eq, irc_lower, IrcKey, IrcStr};
pub use encode::{LineBuilder, SharedLine};
pub use message::{Message, ParseError, MAX_PARAMS};

/// Longest line a client may send, without tags, counting the trailing CRLF.
pub const MAX_LINE: usize = 512;
/// Longest tag section a client may send (the `@...` part, without the space).
pub const MAX_TAGS: usize = 8191;
