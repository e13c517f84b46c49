//! The chat page served on `GET /` by WebSocket listeners: one HTML file with
//! its CSS and JavaScript inline, built into the binary (no build step, no
//! outside requests). It speaks IRC to the server over the same listener.

/// The page, as served.
pub const PAGE: &str = include_str!("index.html");
