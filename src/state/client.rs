//! What the server knows about one connected client: names, capabilities,
//! modes, channels. Kept small, since a million of these may be resident.

use std::net::IpAddr;

use crate::protocol::IrcKey;

/// IRCv3 capabilities, as bits.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Caps(pub u16);

impl Caps {
    pub const MESSAGE_TAGS: Caps = Caps(1);
    pub const SERVER_TIME: Caps = Caps(1 << 1);
    pub const ECHO_MESSAGE: Caps = Caps(1 << 2);
    pub const MULTI_PREFIX: Caps = Caps(1 << 3);
    pub const AWAY_NOTIFY: Caps = Caps(1 << 4);
    pub const CAP_NOTIFY: Caps = Caps(1 << 5);
    pub const SASL: Caps = Caps(1 << 6);
    pub const ACCOUNT_TAG: Caps = Caps(1 << 7);
    pub const ACCOUNT_NOTIFY: Caps = Caps(1 << 8);
    pub const EXTENDED_JOIN: Caps = Caps(1 << 9);
    pub const ACCOUNT_REGISTRATION: Caps = Caps(1 << 10);

    /// Every capability the server offers, by name, in the order advertised.
    pub const ALL: [(&'static str, Caps); 11] = [
        ("account-notify", Caps::ACCOUNT_NOTIFY),
        ("account-tag", Caps::ACCOUNT_TAG),
        ("away-notify", Caps::AWAY_NOTIFY),
        ("cap-notify", Caps::CAP_NOTIFY),
        ("draft/account-registration", Caps::ACCOUNT_REGISTRATION),
        ("echo-message", Caps::ECHO_MESSAGE),
        ("extended-join", Caps::EXTENDED_JOIN),
        ("message-tags", Caps::MESSAGE_TAGS),
        ("multi-prefix", Caps::MULTI_PREFIX),
        ("sasl", Caps::SASL),
        ("server-time", Caps::SERVER_TIME),
    ];

    /// The value advertised with a capability in `CAP LS 302`, if any.
    pub fn ls_value(c: Caps) -> Option<&'static str> {
        match c {
            Caps::SASL => Some("PLAIN"),
            Caps::ACCOUNT_REGISTRATION => Some("before-connect"),
            _ => None,
        }
    }

    pub fn by_name(name: &str) -> Option<Caps> {
        Caps::ALL.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
    }

    pub fn has(self, c: Caps) -> bool {
        self.0 & c.0 != 0
    }

    pub fn set(&mut self, c: Caps, on: bool) {
        if on {
            self.0 |= c.0;
        } else {
            self.0 &= !c.0;
        }
    }

    /// Names of the enabled capabilities, space separated.
    pub fn names(self) -> String {
        let names: Vec<&str> = Caps::ALL
            .iter()
            .filter(|(_, c)| self.has(*c))
            .map(|(n, _)| *n)
            .collect();
        names.join(" ")
    }
}

/// User modes, as bits.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct UserModes(pub u8);

impl UserModes {
    pub const INVISIBLE: u8 = 1;
    pub const OPER: u8 = 1 << 1;
    pub const WALLOPS: u8 = 1 << 2;

    /// Mode letters and bits, in display order.
    pub const LETTERS: [(char, u8); 3] = [
        ('i', Self::INVISIBLE),
        ('o', Self::OPER),
        ('w', Self::WALLOPS),
    ];

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }

    /// `+iw` style string.
    pub fn to_mode_string(self) -> String {
        let mut s = String::from("+");
        for (c, bit) in Self::LETTERS {
            if self.has(bit) {
                s.push(c);
            }
        }
        s
    }
}

/// One connection's client record, from accept until it leaves.
#[derive(Debug)]
pub struct Client {
    /// Lines of a long reply (LIST, NAMES, WHO) still to send, released a
    /// chunk at a time as the send queue drains.
    pub paced: Option<Box<std::collections::VecDeque<crate::protocol::SharedLine>>>,
    /// Empty until the first NICK.
    pub nick: Box<str>,
    /// Username then real name, in one allocation (see [`Client::user`]);
    /// empty until USER.
    ident: Box<str>,
    /// Length of the username at the start of `ident`.
    user_len: u8,
    pub ip: IpAddr,
    pub caps: Caps,
    pub modes: UserModes,
    pub registered: bool,
    /// Connected over TLS (directly or under WebSocket).
    pub tls: bool,
    /// Registration waits while capability negotiation is open.
    pub cap_negotiating: bool,
    /// The connection password (PASS) matched, or none is required.
    pub pass_ok: bool,
    pub channels: Vec<IrcKey>,
    pub away: Option<Box<str>>,
    /// Unix seconds of registration (u32 lasts until 2106).
    pub signon: u32,
    /// Unix seconds of the last message sent (for WHOIS idle time).
    pub last_active: u32,
    /// The account this connection is logged in to.
    pub account: Option<Box<str>>,
    /// Login state (SASL exchange, failed attempts), once any was made.
    pub auth: Option<Box<crate::accounts::ConnAuth>>,
}

/// Unix seconds as kept in a client record (saturating past 2106).
pub fn secs32(unix_secs: u64) -> u32 {
    u32::try_from(unix_secs).unwrap_or(u32::MAX)
}

impl Client {
    pub fn new(ip: IpAddr, pass_ok: bool) -> Self {
        Client {
            paced: None,
            nick: "".into(),
            ident: "".into(),
            user_len: 0,
            ip,
            caps: Caps::default(),
            modes: UserModes::default(),
            registered: false,
            tls: false,
            cap_negotiating: false,
            pass_ok,
            channels: Vec::new(),
            away: None,
            signon: 0,
            last_active: 0,
            account: None,
            auth: None,
        }
    }

    /// The nick to address replies to: `*` before one is chosen.
    pub fn target(&self) -> &str {
        if self.nick.is_empty() {
            "*"
        } else {
            &self.nick
        }
    }

    /// The host shown to others (the address, as no reverse lookup is done).
    pub fn host(&self) -> String {
        match self.ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.to_string();
                    // A host must not start with ':' or it would read as a trailing param.
                    if s.starts_with(':') {
                        format!("0{s}")
                    } else {
                        s
                    }
                }
            },
            IpAddr::V4(v4) => v4.to_string(),
        }
    }

    /// `nick!user@host`, the source of this client's messages.
    pub fn prefix(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user(), self.host())
    }

    /// The username (with its `~`); empty until USER.
    pub fn user(&self) -> &str {
        &self.ident[..self.user_len as usize]
    }

    pub fn realname(&self) -> &str {
        &self.ident[self.user_len as usize..]
    }

    /// Sets username and real name (from USER). The username must be
    /// non-empty and at most 255 bytes.
    pub fn set_ident(&mut self, user: &str, realname: &str) {
        assert!(!user.is_empty() && user.len() <= u8::MAX as usize);
        self.user_len = user.len() as u8;
        self.ident = [user, realname].concat().into();
    }

    pub fn is_oper(&self) -> bool {
        self.modes.has(UserModes::OPER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_record_stays_small() {
        // One per connection, in the client table's slot vector.
        let size = std::mem::size_of::<Option<(crate::bus::ConnId, Client)>>();
        assert!(size <= 152, "{size}");
    }

    #[test]
    fn username_and_realname_share_one_allocation() {
        let mut c = Client::new([127, 0, 0, 1].into(), true);
        assert_eq!((c.user(), c.realname()), ("", ""));
        c.set_ident("~bob", "Bob Smith");
        assert_eq!((c.user(), c.realname()), ("~bob", "Bob Smith"));
        c.set_ident("~b", "");
        assert_eq!((c.user(), c.realname()), ("~b", ""));
    }
}
