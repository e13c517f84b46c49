//! parley
