//! parley: an IRC chat server library built for very high connection counts.

pub mod protocol;
