//! A channel: its members with their status, topic, modes, bans and invites.

use hashbrown::HashMap;

use crate::bus::ConnId;

/// A member's status in a channel, as bits.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Status(pub u8);

impl Status {
    pub const OP: u8 = 1;
    pub const VOICE: u8 = 1 << 1;

    pub fn is_op(self) -> bool {
        self.0 & Self::OP != 0
    }
    pub fn is_voiced(self) -> bool {
        self.0 & Self::VOICE != 0
    }

    /// `@+` prefixes: all of them, or only the highest.
    pub fn prefixes(self, all: bool) -> &'static str {
        match (self.is_op(), self.is_voiced(), all) {
            (true, true, true) => "@+",
            (true, _, _) => "@",
            (false, true, _) => "+",
            (false, false, _) => "",
        }
    }
}

/// Channel flag modes, as bits.
pub mod flag {
    pub const INVITE_ONLY: u8 = 1;
    pub const MODERATED: u8 = 1 << 1;
    pub const NO_EXTERNAL: u8 = 1 << 2;
    pub const TOPIC_LOCK: u8 = 1 << 3;
    /// Letters and bits, in display order.
    pub const LETTERS: [(char, u8); 4] = [
        ('i', INVITE_ONLY),
        ('m', MODERATED),
        ('n', NO_EXTERNAL),
        ('t', TOPIC_LOCK),
    ];
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub text: Box<str>,
    pub setter: Box<str>,
    pub time: u64,
}

#[derive(Debug, Clone)]
pub struct Ban {
    pub mask: Box<str>,
    pub setter: Box<str>,
    pub time: u64,
}

#[derive(Debug)]
pub struct Channel {
    pub name: Box<str>,
    /// Unix seconds of creation.
    pub created: u64,
    pub topic: Option<Topic>,
    pub members: HashMap<ConnId, Status>,
    pub flags: u8,
    pub key: Option<Box<str>>,
    pub limit: Option<usize>,
    pub bans: Vec<Ban>,
    /// Connections invited since the last time they joined. Kept by
    /// connection, not nick, so that an invitation cannot be picked up by
    /// whoever takes the invited user's nick after a nick change.
    pub invites: Vec<ConnId>,
}

impl Channel {
    pub fn new(name: &str, now: u64) -> Self {
        Channel {
            name: name.into(),
            created: now,
            topic: None,
            members: HashMap::new(),
            // New channels are +nt, as on most networks.
            flags: flag::NO_EXTERNAL | flag::TOPIC_LOCK,
            key: None,
            limit: None,
            bans: Vec::new(),
            invites: Vec::new(),
        }
    }

    pub fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    /// Most outstanding invitations kept per channel; the oldest is dropped
    /// past it, so invitations to users who never come cannot pile up.
    pub const MAX_INVITES: usize = 64;

    /// Records an invitation for `id` (once).
    pub fn invite(&mut self, id: ConnId) {
        if self.invites.contains(&id) {
            return;
        }
        if self.invites.len() >= Self::MAX_INVITES {
            self.invites.remove(0);
        }
        self.invites.push(id);
    }

    pub fn is_invited(&self, id: ConnId) -> bool {
        self.invites.contains(&id)
    }

    pub fn status(&self, id: ConnId) -> Option<Status> {
        self.members.get(&id).copied()
    }

    /// `+ntk key` style string; the key is shown only to members.
    pub fn mode_string(&self, show_key: bool) -> (String, Vec<String>) {
        let mut s = String::from("+");
        let mut args = Vec::new();
        for (c, bit) in flag::LETTERS {
            if self.has(bit) {
                s.push(c);
            }
        }
        if let Some(k) = &self.key {
            s.push('k');
            args.push(if show_key { k.to_string() } else { "*".into() });
        }
        if let Some(l) = self.limit {
            s.push('l');
            args.push(l.to_string());
        }
        (s, args)
    }
}
