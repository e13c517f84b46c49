//! The client table: client records stored densely by connection slot.
//!
//! The reactor's slab keeps slots small and reused, so a vector indexed by
//! slot holds every client without hashing and without the spare capacity a
//! hash map keeps (which, spread over every page, would all be resident). The
//! generation in each entry makes a stale `ConnId` miss, as in the reactor.

use std::ops::Index;

use super::Client;
use crate::bus::ConnId;

#[derive(Default, Debug)]
pub struct ClientTable {
    slots: Vec<Option<(ConnId, Client)>>,
    len: usize,
}

impl ClientTable {
    pub fn get(&self, id: &ConnId) -> Option<&Client> {
        match self.slots.get(id.slot as usize)? {
            Some((have, c)) if have == id => Some(c),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, id: &ConnId) -> Option<&mut Client> {
        match self.slots.get_mut(id.slot as usize)? {
            Some((have, c)) if have == id => Some(c),
            _ => None,
        }
    }

    pub fn contains_key(&self, id: &ConnId) -> bool {
        self.get(id).is_some()
    }

    /// Puts a client in its slot, returning whatever the slot held.
    pub fn insert(&mut self, id: ConnId, client: Client) -> Option<Client> {
        let i = id.slot as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let old = self.slots[i].replace((id, client)).map(|(_, c)| c);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, id: &ConnId) -> Option<Client> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.as_ref().is_some_and(|(have, _)| have == id) {
            self.len -= 1;
            return slot.take().map(|(_, c)| c);
        }
        None
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every client with its id (used only by server-wide commands).
    pub fn iter(&self) -> impl Iterator<Item = (&ConnId, &Client)> {
        self.slots.iter().flatten().map(|(id, c)| (id, c))
    }
}

impl Index<&ConnId> for ClientTable {
    type Output = Client;
    fn index(&self, id: &ConnId) -> &Client {
        self.get(id).expect("no client with that id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_generations_miss() {
        let mut t = ClientTable::default();
        let a = ConnId { slot: 3, gen: 1 };
        let b = ConnId { slot: 3, gen: 2 };
        t.insert(a, Client::new([127, 0, 0, 1].into(), true));
        assert!(t.contains_key(&a));
        assert!(!t.contains_key(&b));
        assert!(t.remove(&b).is_none());
        assert_eq!(t.len(), 1);
        assert!(t.remove(&a).is_some());
        assert!(t.is_empty());
        assert_eq!(t.iter().count(), 0);
    }
}
