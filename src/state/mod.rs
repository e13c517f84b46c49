//! Shared chat state: clients, the nick registry and channels.
//!
//! Owned by the workers, behind one lock (see `server`). Everything here is a
//! plain data update: no I/O, no encoding, no replies. Each operation touches
//! only the records it names, never every client, so its cost does not grow
//! with the number of connections.

mod channel;
mod client;
pub mod mask;
mod table;

pub use channel::{flag, Ban, Channel, Status, Topic};
pub use client::{secs32, Caps, Client, UserModes};
pub use table::ClientTable;

use hashbrown::HashMap;

use crate::bus::ConnId;
use crate::protocol::{irc_eq, IrcKey, IrcStr};

/// The whole chat state of one server.
#[derive(Default)]
pub struct World {
    pub clients: ClientTable,
    /// Nick -> connection, hashed and compared case-insensitively through the
    /// client's own nick, so the nick is stored only once.
    nicks: NickIndex,
    pub channels: HashMap<IrcKey, Channel>,
    pub counts: Counts,
}

/// The nick index: a hash table of connection ids whose keys live in the
/// client records themselves.
#[derive(Default)]
struct NickIndex {
    table: hashbrown::HashTable<ConnId>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl NickIndex {
    fn hash(&self, nick: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(IrcStr(nick))
    }

    fn find(&self, clients: &ClientTable, nick: &str) -> Option<ConnId> {
        let eq = |id: &ConnId| clients.get(id).is_some_and(|c| irc_eq(&c.nick, nick));
        self.table.find(self.hash(nick), eq).copied()
    }

    /// Adds `id`, whose record in `clients` already carries `nick`.
    fn insert(&mut self, clients: &ClientTable, id: ConnId, nick: &str) {
        let hash = self.hash(nick);
        let hasher = &self.hasher;
        let rehash = |id: &ConnId| {
            use std::hash::BuildHasher;
            hasher.hash_one(IrcStr(clients.get(id).map_or("", |c| &c.nick)))
        };
        self.table.insert_unique(hash, id, rehash);
    }

    fn remove(&mut self, clients: &ClientTable, nick: &str) {
        let eq = |id: &ConnId| clients.get(id).is_some_and(|c| irc_eq(&c.nick, nick));
        if let Ok(entry) = self.table.find_entry(self.hash(nick), eq) {
            entry.remove();
        }
    }
}

/// Running totals for LUSERS, kept up to date by every change.
#[derive(Default, Debug, Clone, Copy)]
pub struct Counts {
    pub registered: usize,
    pub invisible: usize,
    pub opers: usize,
    pub max_registered: usize,
}

impl World {
    pub fn client(&self, id: ConnId) -> Option<&Client> {
        self.clients.get(&id)
    }

    pub fn client_mut(&mut self, id: ConnId) -> Option<&mut Client> {
        self.clients.get_mut(&id)
    }

    pub fn find_nick(&self, nick: &str) -> Option<ConnId> {
        self.nicks.find(&self.clients, nick)
    }

    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.get(&IrcStr(name))
    }

    pub fn channel_mut(&mut self, name: &str) -> Option<&mut Channel> {
        self.channels.get_mut(&IrcStr(name))
    }

    /// Unregistered connections (accepted, not yet through registration).
    pub fn unregistered(&self) -> usize {
        self.clients.len() - self.counts.registered
    }

    /// Gives `id` the nick `new`, releasing its old one. The caller has checked
    /// that `new` is free (or is the same client's nick in another case).
    pub fn set_nick(&mut self, id: ConnId, new: &str) {
        let Some(c) = self.clients.get(&id) else {
            return;
        };
        if !c.nick.is_empty() {
            let old = c.nick.clone();
            self.nicks.remove(&self.clients, &old);
        }
        if let Some(c) = self.clients.get_mut(&id) {
            c.nick = new.into();
        }
        self.nicks.insert(&self.clients, id, new);
    }

    /// Marks a client registered and counts it.
    pub fn mark_registered(&mut self, id: ConnId, now: u64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        c.registered = true;
        c.signon = client::secs32(now);
        c.last_active = c.signon;
        self.counts.registered += 1;
        if c.modes.has(UserModes::INVISIBLE) {
            self.counts.invisible += 1;
        }
        self.counts.max_registered = self.counts.max_registered.max(self.counts.registered);
    }

    /// Changes a user mode bit, keeping the counts right.
    pub fn set_user_mode(&mut self, id: ConnId, bit: u8, on: bool) -> bool {
        let Some(c) = self.clients.get_mut(&id) else {
            return false;
        };
        if c.modes.has(bit) == on {
            return false;
        }
        c.modes.set(bit, on);
        if c.registered {
            let counter = match bit {
                UserModes::INVISIBLE => Some(&mut self.counts.invisible),
                UserModes::OPER => Some(&mut self.counts.opers),
                _ => None,
            };
            if let Some(n) = counter {
                if on {
                    *n += 1;
                } else {
                    *n -= 1;
                }
            }
        }
        true
    }

    /// Everyone who shares at least one channel with `id`, once each, without
    /// `id` itself.
    pub fn peers(&self, id: ConnId) -> Vec<ConnId> {
        let Some(c) = self.clients.get(&id) else {
            return Vec::new();
        };
        let mut out: Vec<ConnId> = Vec::new();
        for key in &c.channels {
            if let Some(ch) = self.channels.get(key) {
                out.extend(ch.members.keys().copied().filter(|&m| m != id));
            }
        }
        if c.channels.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
        out
    }

    /// Adds `id` to a channel, creating it (with `id` as operator) if needed.
    /// Returns the member's status.
    pub fn join(&mut self, id: ConnId, name: &str, now: u64) -> Status {
        let ch = self
            .channels
            .entry(IrcKey::new(name))
            .or_insert_with(|| Channel::new(name, now));
        let status = if ch.members.is_empty() {
            Status(Status::OP)
        } else {
            Status::default()
        };
        ch.members.insert(id, status);
        ch.invites.retain(|&n| n != id);
        let key = IrcKey::new(&ch.name);
        if let Some(c) = self.clients.get_mut(&id) {
            c.channels.push(key);
        }
        status
    }

    /// Removes `id` from a channel, dropping the channel when it empties.
    pub fn part(&mut self, id: ConnId, name: &str) {
        if let Some(ch) = self.channels.get_mut(&IrcStr(name)) {
            ch.members.remove(&id);
            if ch.members.is_empty() {
                self.channels.remove(&IrcStr(name));
            }
        }
        if let Some(c) = self.clients.get_mut(&id) {
            c.channels.retain(|k| !crate::protocol::irc_eq(&k.0, name));
        }
    }

    /// Removes a client entirely: nick, channel memberships, counts.
    pub fn remove_client(&mut self, id: ConnId) -> Option<Client> {
        let nick = self.clients.get(&id)?.nick.clone();
        if !nick.is_empty() && self.find_nick(&nick) == Some(id) {
            self.nicks.remove(&self.clients, &nick);
        }
        let c = self.clients.remove(&id)?;
        for key in &c.channels {
            if let Some(ch) = self.channels.get_mut(key) {
                ch.members.remove(&id);
                if ch.members.is_empty() {
                    self.channels.remove(key);
                }
            }
        }
        if c.registered {
            self.counts.registered -= 1;
            if c.modes.has(UserModes::INVISIBLE) {
                self.counts.invisible -= 1;
            }
            if c.is_oper() {
                self.counts.opers -= 1;
            }
        }
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> ConnId {
        ConnId { slot: n, gen: 1 }
    }

    fn world_with(n: u32) -> World {
        let mut w = World::default();
        for i in 0..n {
            w.clients
                .insert(id(i), Client::new([127, 0, 0, 1].into(), true));
            w.set_nick(id(i), &format!("n{i}"));
            w.mark_registered(id(i), 0);
        }
        w
    }

    #[test]
    fn first_joiner_is_op_and_channel_dies_empty() {
        let mut w = world_with(2);
        assert!(w.join(id(0), "#A", 0).is_op());
        assert!(!w.join(id(1), "#a", 0).is_op());
        assert_eq!(w.peers(id(0)), vec![id(1)]);
        w.part(id(0), "#a");
        w.part(id(1), "#A");
        assert!(w.channel("#a").is_none());
    }

    #[test]
    fn removing_a_client_frees_its_nick_and_counts() {
        let mut w = world_with(2);
        w.join(id(0), "#a", 0);
        w.join(id(1), "#a", 0);
        w.set_user_mode(id(0), UserModes::INVISIBLE, true);
        assert_eq!(w.counts.invisible, 1);
        w.remove_client(id(0));
        assert!(w.find_nick("N0").is_none());
        assert_eq!(w.counts.registered, 1);
        assert_eq!(w.counts.invisible, 0);
        assert_eq!(w.channel("#a").unwrap().members.len(), 1);
    }
}
