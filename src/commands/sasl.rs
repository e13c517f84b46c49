//! IRCv3 SASL: `AUTHENTICATE PLAIN`, with the 900/903/904/905/906/907/908
//! numerics. Registration waits for `CAP END` (the client asked for the
//! `sasl` capability, which opens negotiation) and for any check in flight.

use base64ct::{Base64, Encoding};

use super::account::{
    check_password, login, Outcome, ERR_SASLABORTED, ERR_SASLALREADY, ERR_SASLFAIL,
    ERR_SASLTOOLONG, RPL_SASLMECHS, RPL_SASLSUCCESS,
};
use super::{need_params, Ctx};
use crate::accounts::Sasl;
use crate::protocol::Message;

/// Longest chunk of base64 in one AUTHENTICATE line.
const CHUNK: usize = 400;
/// Longest whole response, in base64 characters (authzid, authcid and a
/// password of the longest allowed length fit well within it).
const MAX_RESPONSE: usize = 2000;

pub fn authenticate(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 1).is_none() {
        return;
    }
    let arg = msg.params()[0];
    let state = std::mem::take(&mut ctx.me_mut().auth_mut().sasl);
    if arg == "*" {
        return match state {
            Sasl::Checking => ctx.me_mut().auth_mut().sasl = Sasl::Checking,
            _ => ctx.num(ERR_SASLABORTED, &["SASL authentication aborted"]),
        };
    }
    match state {
        Sasl::Idle => start(ctx, arg),
        Sasl::Plain(mut buf) => {
            if arg.len() > CHUNK {
                return ctx.num(ERR_SASLTOOLONG, &["SASL message too long"]);
            }
            if arg != "+" {
                buf.push_str(arg);
            }
            if buf.len() > MAX_RESPONSE {
                return ctx.num(ERR_SASLTOOLONG, &["SASL message too long"]);
            }
            if arg.len() == CHUNK {
                // A full chunk: more follows (or a lone "+").
                ctx.me_mut().auth_mut().sasl = Sasl::Plain(buf);
                return;
            }
            plain(ctx, &buf);
        }
        // One exchange at a time: ignore lines sent while the check runs.
        Sasl::Checking => ctx.me_mut().auth_mut().sasl = Sasl::Checking,
    }
}

/// `CAP END` while a client is still sending its response: the exchange is
/// dropped (906) and registration goes on without an account. A check
/// already in flight is left to finish; registration waits for it.
pub fn abort_unfinished(ctx: &mut Ctx) {
    let gathering = ctx.me().auth.as_ref().map(|a| &a.sasl);
    if matches!(gathering, Some(Sasl::Plain(_))) {
        ctx.me_mut().auth_mut().sasl = Sasl::Idle;
        ctx.num(ERR_SASLABORTED, &["SASL authentication aborted"]);
    }
}

fn start(ctx: &mut Ctx, mechanism: &str) {
    if ctx.me().account.is_some() {
        return ctx.num(
            ERR_SASLALREADY,
            &["You have already authenticated using SASL"],
        );
    }
    if !mechanism.eq_ignore_ascii_case("PLAIN") {
        ctx.num(RPL_SASLMECHS, &["PLAIN", "are available SASL mechanisms"]);
        return ctx.num(ERR_SASLFAIL, &["SASL authentication failed"]);
    }
    ctx.me_mut().auth_mut().sasl = Sasl::Plain(String::new());
    let line = crate::protocol::LineBuilder::new(None, "AUTHENTICATE")
        .param("+")
        .build();
    ctx.send(line);
}

/// `authzid NUL authcid NUL password`, base64-encoded.
fn plain(ctx: &mut Ctx, b64: &str) {
    let Some((authzid, authcid, password)) = Base64::decode_vec(b64)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            let mut parts = s.splitn(3, '\0');
            let (z, c, p) = (parts.next()?, parts.next()?, parts.next()?);
            Some((z.to_string(), c.to_string(), p.to_string()))
        })
    else {
        return ctx.num(ERR_SASLFAIL, &["SASL authentication failed"]);
    };
    // Acting as another account (authzid) is not supported.
    if authcid.is_empty() || !(authzid.is_empty() || authzid == authcid) {
        return ctx.num(ERR_SASLFAIL, &["SASL authentication failed"]);
    }
    ctx.me_mut().auth_mut().sasl = Sasl::Checking;
    check_password(ctx, &authcid, password, "SASL", |ctx, outcome| {
        ctx.me_mut().auth_mut().sasl = Sasl::Idle;
        match outcome {
            Outcome::Ok { name, oper } => {
                login(ctx, &name, oper, "SASL");
                ctx.num(RPL_SASLSUCCESS, &["SASL authentication successful"]);
            }
            _ => ctx.num(ERR_SASLFAIL, &["SASL authentication failed"]),
        }
    });
}
