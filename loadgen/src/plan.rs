//! The shape of a run, computed from the options alone: client names, which
//! groups (channels or private pairs) each client is in, who sends to whom at
//! what rate, and the text format of a measured message.
//!
//! Everything here is arithmetic on client indices, so any thread can answer
//! "which channel is this, and which sender slot is that id?" in O(1) with no
//! shared tables. It owns no sockets and no clocks.

use std::fmt::Write as _;

/// How clients are grouped for messaging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// No messaging (`connect`, `idle`).
    None,
    /// `channels` channels of `members` members; the first `senders` members
    /// of each send. Membership slot `k` (0..channels*members) is channel
    /// `k / members`, member `k % members`, client `k % clients`.
    Channels {
        clients: u32,
        channels: u32,
        members: u32,
        senders: u32,
    },
    /// Clients `2g` and `2g+1` form pair `g` and send to each other.
    Pairs { clients: u32 },
}

/// One group a client belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub group: u32,
    /// Position among the group's members; members below `senders` send.
    pub member: u32,
}

impl Layout {
    /// Number of groups.
    pub fn groups(&self) -> u32 {
        match *self {
            Layout::None => 0,
            Layout::Channels { channels, .. } => channels,
            Layout::Pairs { clients } => clients / 2,
        }
    }

    /// Members of every group.
    pub fn members(&self) -> u32 {
        match *self {
            Layout::None => 0,
            Layout::Channels { members, .. } => members,
            Layout::Pairs { .. } => 2,
        }
    }

    /// Senders in every group.
    pub fn senders(&self) -> u32 {
        match *self {
            Layout::None => 0,
            Layout::Channels { senders, .. } => senders,
            Layout::Pairs { .. } => 2,
        }
    }

    /// Sending streams in the whole run (one per sending membership).
    pub fn streams(&self) -> u64 {
        u64::from(self.groups()) * u64::from(self.senders())
    }

    /// Whether groups are channels (targets `#name`) rather than pairs.
    pub fn is_channels(&self) -> bool {
        matches!(self, Layout::Channels { .. })
    }

    /// The groups `client` is in, in a fixed order (its "group positions").
    pub fn memberships(&self, client: u32) -> impl Iterator<Item = Membership> {
        // Membership slots of `client` are client, client+step, ... below `slots`.
        let (step, slots, members) = match *self {
            Layout::None => (1, 0, 1),
            Layout::Channels {
                clients,
                channels,
                members,
                ..
            } => (
                u64::from(clients),
                u64::from(channels) * u64::from(members),
                members,
            ),
            Layout::Pairs { clients } => (u64::MAX, u64::from(clients / 2 * 2), 2),
        };
        std::iter::successors(Some(u64::from(client)), move |k| k.checked_add(step))
            .take_while(move |&k| k < slots)
            .map(move |k| Membership {
                group: (k / u64::from(members)) as u32,
                member: (k % u64::from(members)) as u32,
            })
    }

    /// The sender slot (its member position, below `senders`) of client
    /// `sender` in `group`, or `None` if it is not a sender there.
    pub fn sender_slot(&self, group: u32, sender: u32) -> Option<u32> {
        match *self {
            Layout::None => None,
            Layout::Channels {
                clients,
                channels,
                members,
                senders,
            } => {
                if group >= channels || sender >= clients {
                    return None;
                }
                let first = (u64::from(group) * u64::from(members)) % u64::from(clients);
                let slot = (u64::from(sender) + u64::from(clients) - first) % u64::from(clients);
                (slot < u64::from(senders)).then_some(slot as u32)
            }
            Layout::Pairs { clients } => {
                (sender / 2 == group && sender < clients / 2 * 2).then_some(sender % 2)
            }
        }
    }

    /// The client that is member `member` of `group`.
    pub fn member_client(&self, group: u32, member: u32) -> u32 {
        match *self {
            Layout::None => 0,
            Layout::Channels {
                clients, members, ..
            } => {
                ((u64::from(group) * u64::from(members) + u64::from(member)) % u64::from(clients))
                    as u32
            }
            Layout::Pairs { .. } => group * 2 + member,
        }
    }

    /// Global index of the stream (group, sender slot), 0..streams().
    pub fn stream_index(&self, group: u32, slot: u32) -> u64 {
        u64::from(group) * u64::from(self.senders()) + u64::from(slot)
    }
}

/// Lower-case base 36 digits of `n`.
pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(13);
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Parses lower-case base 36.
pub fn parse_base36(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    let mut n: u64 = 0;
    for c in s.bytes() {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' => c - b'a' + 10,
            _ => return None,
        };
        n = n * 36 + u64::from(d);
    }
    Some(n)
}

/// Names of clients and channels for one run.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    /// Checks the prefix (a letter, then letters or digits) and that the
    /// longest nick fits `max_len`.
    pub fn new(prefix: &str, clients: usize, max_len: usize) -> Result<Names, String> {
        let ok = prefix
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && prefix.chars().all(|c| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "--nick-prefix `{prefix}`: must be a letter followed by letters or digits"
            ));
        }
        let longest = prefix.len() + base36(clients.saturating_sub(1) as u64).len();
        if longest > max_len {
            return Err(format!(
                "nicks would be up to {longest} characters (prefix `{prefix}` + base-36 index) \
                 but --max-nick-len is {max_len}: use a shorter --nick-prefix or raise \
                 --max-nick-len if the server allows longer nicks"
            ));
        }
        Ok(Names {
            prefix: prefix.to_ascii_lowercase(),
        })
    }

    /// The nick of client `id`.
    pub fn nick(&self, id: u32) -> String {
        format!("{}{}", self.prefix, base36(u64::from(id)))
    }

    /// The name of channel `group`.
    pub fn channel(&self, group: u32) -> String {
        format!("#{}{}", self.prefix, base36(u64::from(group)))
    }

    /// The group number of a channel name of this run (case-insensitive).
    pub fn parse_channel(&self, name: &str) -> Option<u32> {
        let rest = name.strip_prefix('#')?;
        if rest.len() <= self.prefix.len() || !rest.is_char_boundary(self.prefix.len()) {
            return None;
        }
        let (p, digits) = rest.split_at(self.prefix.len());
        if !p.eq_ignore_ascii_case(&self.prefix) {
            return None;
        }
        let lower = digits.to_ascii_lowercase();
        parse_base36(&lower).and_then(|n| u32::try_from(n).ok())
    }
}

/// The measured part of a message text: `<sender> <seq> <intended-ns>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Sending client's index.
    pub sender: u32,
    /// Per-stream sequence number, from 0.
    pub seq: u32,
    /// Intended send time in nanoseconds since the run's epoch.
    pub intended_ns: u64,
}

impl Stamp {
    /// Writes the text for this stamp, padded with `pad` extra bytes.
    pub fn write(&self, out: &mut String, pad: usize) {
        out.clear();
        let _ = write!(out, "{} {} {}", self.sender, self.seq, self.intended_ns);
        if pad > 0 {
            out.push(' ');
            out.extend(std::iter::repeat_n('x', pad - 1));
        }
    }

    /// Reads a stamp back from a received message text.
    pub fn parse(text: &str) -> Option<Stamp> {
        let mut it = text.split(' ');
        let sender = it.next()?.parse().ok()?;
        let seq = it.next()?.parse().ok()?;
        let intended_ns = it.next()?.parse().ok()?;
        Some(Stamp {
            sender,
            seq,
            intended_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_round_trips() {
        for n in [0u64, 1, 35, 36, 1295, 1296, 99_999, 4_000_000_000] {
            assert_eq!(parse_base36(&base36(n)), Some(n));
        }
        assert_eq!(base36(35), "z");
        assert_eq!(parse_base36("A"), None);
    }

    #[test]
    fn names_and_limits() {
        let n = Names::new("lg", 1000, 9).unwrap();
        assert_eq!(n.nick(0), "lg0");
        assert_eq!(n.nick(36), "lg10");
        assert_eq!(n.channel(5), "#lg5");
        assert_eq!(n.parse_channel("#LG5"), Some(5));
        assert_eq!(n.parse_channel("#xy5"), None);
        assert_eq!(n.parse_channel("#lg"), None);
        assert!(Names::new("1x", 10, 9).is_err());
        assert!(Names::new("abcdefgh", 100, 9).is_err());
        assert!(Names::new("lg", 78_364_164_096, 9).is_ok());
    }

    #[test]
    fn channel_layout_is_consistent() {
        let l = Layout::Channels {
            clients: 10,
            channels: 4,
            members: 5,
            senders: 2,
        };
        // 20 memberships over 10 clients: each client in exactly 2 channels.
        let mut per_group = [0u32; 4];
        for c in 0..10 {
            let ms: Vec<_> = l.memberships(c).collect();
            assert_eq!(ms.len(), 2, "client {c}");
            for m in ms {
                per_group[m.group as usize] += 1;
                assert_eq!(l.member_client(m.group, m.member), c);
                let slot = l.sender_slot(m.group, c);
                assert_eq!(slot, (m.member < 2).then_some(m.member));
            }
        }
        assert_eq!(per_group, [5; 4]);
        assert_eq!(l.streams(), 8);
    }

    #[test]
    fn partial_channel_layout() {
        let l = Layout::Channels {
            clients: 10,
            channels: 3,
            members: 3,
            senders: 3,
        };
        assert_eq!(l.memberships(9).count(), 0);
        assert_eq!(l.memberships(8).count(), 1);
        assert_eq!(l.sender_slot(2, 8), Some(2));
        assert_eq!(l.sender_slot(2, 9), None);
    }

    #[test]
    fn pair_layout() {
        let l = Layout::Pairs { clients: 5 };
        assert_eq!(l.groups(), 2);
        assert_eq!(
            l.memberships(3).collect::<Vec<_>>(),
            vec![Membership {
                group: 1,
                member: 1
            }]
        );
        assert_eq!(l.memberships(4).count(), 0);
        assert_eq!(l.sender_slot(1, 2), Some(0));
        assert_eq!(l.sender_slot(1, 4), None);
        assert_eq!(l.sender_slot(2, 4), None);
        assert_eq!(l.member_client(1, 1), 3);
    }

    #[test]
    fn stamps_round_trip() {
        let s = Stamp {
            sender: 7,
            seq: 42,
            intended_ns: 123_456_789,
        };
        let mut t = String::new();
        s.write(&mut t, 10);
        assert_eq!(t.len(), "7 42 123456789".len() + 10);
        assert_eq!(Stamp::parse(&t), Some(s));
        assert_eq!(Stamp::parse("hello there"), None);
    }
}
