//! ChanServ: registered channels.

use super::account::{notice, words, CHANSERV};
use super::Ctx;

pub fn command(ctx: &mut Ctx, args: &[&str]) {
    let _ = words(args);
    notice(ctx, CHANSERV, "ChanServ is not available yet.");
}
