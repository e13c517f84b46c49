//! The account database: schema, migrations and every query, all through
//! bound parameters (no SQL is ever built from client text).
//!
//! SQLite (through `rusqlite` with the bundled library) because it needs no
//! server, survives a process kill once a transaction has committed, and its
//! WAL mode lets reads go on during a write. Functions here are synchronous and
//! only ever run on the accounts pool.

use rusqlite::{params, Connection, OptionalExtension};

pub use rusqlite::Error;
pub type Result<T> = std::result::Result<T, Error>;

/// Schema steps, applied in order; `PRAGMA user_version` records how many
/// have run. Never edit a released step: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: accounts and registered channels.
    "CREATE TABLE accounts (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL,
        key      TEXT NOT NULL UNIQUE,
        hash     TEXT NOT NULL,
        email    TEXT,
        created  INTEGER NOT NULL,
        oper     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE channels (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        key          TEXT NOT NULL UNIQUE,
        founder      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        created      INTEGER NOT NULL,
        topic        TEXT,
        topic_setter TEXT,
        topic_time   INTEGER,
        modes        TEXT NOT NULL DEFAULT 'nt',
        mode_key     TEXT,
        mode_limit   INTEGER,
        topiclock    INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE channel_access (
        channel INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        level   TEXT NOT NULL,
        PRIMARY KEY (channel, account)
    );
    CREATE INDEX channel_access_account ON channel_access(account);
    CREATE INDEX channels_founder ON channels(founder);",
    // 2: ban lists of registered channels.
    "CREATE TABLE channel_bans (
        channel INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        mask    TEXT NOT NULL,
        setter  TEXT NOT NULL,
        time    INTEGER NOT NULL,
        PRIMARY KEY (channel, mask)
    );",
];

/// Opens (creating if needed) the database at `path` (`:memory:` for a
/// private in-memory one) and brings its schema up to date.
pub fn open(path: &str) -> Result<(Connection, (usize, usize))> {
    let mut conn = Connection::open(path)?;
    // WAL: readers are not blocked by the writer, and a commit is one append.
    // synchronous=FULL: a committed registration survives even a power cut.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let versions = migrate(&mut conn)?;
    Ok((conn, versions))
}

/// Applies every migration not yet applied, each in its own transaction.
/// Returns the schema versions before and after.
pub fn migrate(conn: &mut Connection) -> Result<(usize, usize)> {
    let version = conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    if version > MIGRATIONS.len() {
        return Err(Error::InvalidParameterName(format!(
            "database schema version {version} is newer than this parley ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok((version, MIGRATIONS.len()))
}

/// One account as stored.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: i64,
    pub name: String,
    pub hash: String,
    pub email: Option<String>,
    pub created: i64,
    pub oper: bool,
}

/// Creates an account; `Ok(None)` when the name is taken.
pub fn create_account(
    conn: &Connection,
    name: &str,
    key: &str,
    hash: &str,
    email: Option<&str>,
    now: i64,
) -> Result<Option<i64>> {
    let n = conn.execute(
        "INSERT INTO accounts (name, key, hash, email, created) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(key) DO NOTHING",
        params![name, key, hash, email, now],
    )?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

pub fn account(conn: &Connection, key: &str) -> Result<Option<AccountRow>> {
    conn.query_row(
        "SELECT id, name, hash, email, created, oper FROM accounts WHERE key = ?1",
        params![key],
        |r| {
            Ok(AccountRow {
                id: r.get(0)?,
                name: r.get(1)?,
                hash: r.get(2)?,
                email: r.get(3)?,
                created: r.get(4)?,
                oper: r.get(5)?,
            })
        },
    )
    .optional()
}

/// Every account's key, for the in-memory name cache.
pub fn account_keys(conn: &Connection) -> Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare("SELECT key FROM accounts")?;
    let keys = stmt.query_map([], |r| r.get::<_, String>(0))?;
    keys.collect()
}

pub fn account_exists(conn: &Connection, key: &str) -> Result<bool> {
    conn.query_row(
        "SELECT 1 FROM accounts WHERE key = ?1",
        params![key],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

pub fn set_password(conn: &Connection, key: &str, hash: &str) -> Result<bool> {
    conn.execute(
        "UPDATE accounts SET hash = ?2 WHERE key = ?1",
        params![key, hash],
    )
    .map(|n| n == 1)
}

pub fn set_oper(conn: &Connection, key: &str, on: bool) -> Result<bool> {
    conn.execute(
        "UPDATE accounts SET oper = ?2 WHERE key = ?1",
        params![key, on],
    )
    .map(|n| n == 1)
}

/// Deletes an account; the channels it founded and its access entries go with
/// it. Returns the keys of the channels that were dropped.
pub fn drop_account(conn: &mut Connection, key: &str) -> Result<Option<Vec<String>>> {
    let tx = conn.transaction()?;
    let Some(id) = tx
        .query_row(
            "SELECT id FROM accounts WHERE key = ?1",
            params![key],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let chans = {
        let mut st = tx.prepare("SELECT key FROM channels WHERE founder = ?1")?;
        let rows = st.query_map(params![id], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<Vec<_>>>()?
    };
    tx.execute("DELETE FROM accounts WHERE id = ?1", params![id])?;
    tx.commit()?;
    Ok(Some(chans))
}

/// Access levels on a registered channel, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Voice,
    Op,
    Founder,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Voice => "voice",
            Level::Op => "op",
            Level::Founder => "founder",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "voice" | "v" => Some(Level::Voice),
            "op" | "o" => Some(Level::Op),
            "founder" => Some(Level::Founder),
            _ => None,
        }
    }
}

/// A registered channel as stored.
#[derive(Debug, Clone, Default)]
pub struct ChannelRow {
    pub name: String,
    pub key: String,
    /// The founder's account name.
    pub founder: String,
    pub created: i64,
    pub topic: Option<(String, String, i64)>,
    /// Flag letters, e.g. `nt`.
    pub modes: String,
    pub mode_key: Option<String>,
    pub mode_limit: Option<i64>,
    pub topiclock: bool,
    /// Account key, account name, level; the founder is not listed here.
    pub access: Vec<(String, String, Level)>,
    /// Ban list in the order set: mask, setter, time.
    pub bans: Vec<(String, String, i64)>,
}

pub fn register_channel(
    conn: &Connection,
    row: &ChannelRow,
    founder_key: &str,
) -> Result<Option<()>> {
    let n = conn.execute(
        "INSERT INTO channels (name, key, founder, created, topic, topic_setter, topic_time,
                               modes, mode_key, mode_limit)
         SELECT ?1, ?2, id, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM accounts WHERE key = ?3
         ON CONFLICT(key) DO NOTHING",
        params![
            row.name,
            row.key,
            founder_key,
            row.created,
            row.topic.as_ref().map(|t| &t.0),
            row.topic.as_ref().map(|t| &t.1),
            row.topic.as_ref().map(|t| t.2),
            row.modes,
            row.mode_key,
            row.mode_limit,
        ],
    )?;
    if n != 1 {
        return Ok(None);
    }
    save_bans(conn, &row.key, &row.bans)?;
    Ok(Some(()))
}

/// Every registered channel with its access list (loaded once at start).
pub fn all_channels(conn: &Connection) -> Result<Vec<ChannelRow>> {
    let mut st = conn.prepare(
        "SELECT c.id, c.name, c.key, a.name, c.created, c.topic, c.topic_setter, c.topic_time,
                c.modes, c.mode_key, c.mode_limit, c.topiclock
         FROM channels c JOIN accounts a ON a.id = c.founder ORDER BY c.id",
    )?;
    let rows = st.query_map([], |r| {
        let topic: Option<String> = r.get(5)?;
        Ok((
            r.get::<_, i64>(0)?,
            ChannelRow {
                name: r.get(1)?,
                key: r.get(2)?,
                founder: r.get(3)?,
                created: r.get(4)?,
                topic: match topic {
                    Some(t) => Some((
                        t,
                        r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        r.get::<_, Option<i64>>(7)?.unwrap_or(0),
                    )),
                    None => None,
                },
                modes: r.get(8)?,
                mode_key: r.get(9)?,
                mode_limit: r.get(10)?,
                topiclock: r.get(11)?,
                access: Vec::new(),
                bans: Vec::new(),
            },
        ))
    })?;
    let mut out = Vec::new();
    let mut access = conn.prepare(
        "SELECT a.key, a.name, x.level FROM channel_access x JOIN accounts a ON a.id = x.account
         WHERE x.channel = ?1 ORDER BY a.key",
    )?;
    let mut bans = conn
        .prepare("SELECT mask, setter, time FROM channel_bans WHERE channel = ?1 ORDER BY rowid")?;
    for row in rows {
        let (id, mut ch) = row?;
        let list = access.query_map(params![id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for item in list {
            let (k, n, level) = item?;
            if let Some(level) = Level::parse(&level) {
                ch.access.push((k, n, level));
            }
        }
        let list = bans.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        ch.bans = list.collect::<Result<_>>()?;
        out.push(ch);
    }
    Ok(out)
}

pub fn drop_channel(conn: &Connection, key: &str) -> Result<bool> {
    conn.execute("DELETE FROM channels WHERE key = ?1", params![key])
        .map(|n| n == 1)
}

/// Sets (or with `None` removes) an account's access on a channel. Returns
/// false when the channel or account does not exist.
pub fn set_access(
    conn: &Connection,
    chan_key: &str,
    account_key: &str,
    level: Option<Level>,
) -> Result<bool> {
    let n = match level {
        Some(l) => conn.execute(
            "INSERT INTO channel_access (channel, account, level)
             SELECT c.id, a.id, ?3 FROM channels c, accounts a WHERE c.key = ?1 AND a.key = ?2
             ON CONFLICT(channel, account) DO UPDATE SET level = excluded.level",
            params![chan_key, account_key, l.as_str()],
        )?,
        None => conn.execute(
            "DELETE FROM channel_access WHERE
                channel = (SELECT id FROM channels WHERE key = ?1) AND
                account = (SELECT id FROM accounts WHERE key = ?2)",
            params![chan_key, account_key],
        )?,
    };
    Ok(n == 1)
}

pub fn save_topic(
    conn: &Connection,
    chan_key: &str,
    topic: Option<(&str, &str, i64)>,
) -> Result<()> {
    conn.execute(
        "UPDATE channels SET topic = ?2, topic_setter = ?3, topic_time = ?4 WHERE key = ?1",
        params![
            chan_key,
            topic.map(|t| t.0),
            topic.map(|t| t.1),
            topic.map(|t| t.2)
        ],
    )?;
    Ok(())
}

pub fn save_modes(
    conn: &Connection,
    chan_key: &str,
    modes: &str,
    mode_key: Option<&str>,
    limit: Option<i64>,
) -> Result<()> {
    conn.execute(
        "UPDATE channels SET modes = ?2, mode_key = ?3, mode_limit = ?4 WHERE key = ?1",
        params![chan_key, modes, mode_key, limit],
    )?;
    Ok(())
}

/// Replaces a channel's saved ban list, in one transaction.
pub fn save_bans(conn: &Connection, chan_key: &str, bans: &[(String, String, i64)]) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "DELETE FROM channel_bans WHERE channel = (SELECT id FROM channels WHERE key = ?1)",
        params![chan_key],
    )?;
    let mut insert = tx.prepare(
        "INSERT OR IGNORE INTO channel_bans (channel, mask, setter, time)
         SELECT id, ?2, ?3, ?4 FROM channels WHERE key = ?1",
    )?;
    for (mask, setter, time) in bans {
        insert.execute(params![chan_key, mask, setter, time])?;
    }
    drop(insert);
    tx.commit()
}

pub fn set_topiclock(conn: &Connection, chan_key: &str, on: bool) -> Result<()> {
    conn.execute(
        "UPDATE channels SET topiclock = ?2 WHERE key = ?1",
        params![chan_key, on],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_idempotent_and_accounts_round_trip() {
        let (mut c, versions) = open(":memory:").unwrap();
        assert_eq!(versions, (0, MIGRATIONS.len()));
        assert_eq!(
            migrate(&mut c).unwrap(),
            (MIGRATIONS.len(), MIGRATIONS.len())
        );
        let hostile = "a'); DROP TABLE accounts; --\0\u{1F600}";
        assert!(create_account(&c, hostile, hostile, "h", Some(hostile), 1)
            .unwrap()
            .is_some());
        assert!(create_account(&c, "x", hostile, "h", None, 1)
            .unwrap()
            .is_none());
        let row = account(&c, hostile).unwrap().unwrap();
        assert_eq!(row.name, hostile);
        assert_eq!(row.email.as_deref(), Some(hostile));
        assert!(set_password(&c, hostile, "h2").unwrap());
        assert_eq!(account(&c, hostile).unwrap().unwrap().hash, "h2");
    }

    #[test]
    fn channels_and_access_cascade_with_the_founder() {
        let (mut c, _) = open(":memory:").unwrap();
        create_account(&c, "Bob", "bob", "h", None, 1).unwrap();
        create_account(&c, "Eve", "eve", "h", None, 1).unwrap();
        let row = ChannelRow {
            name: "#Room".into(),
            key: "#room".into(),
            created: 5,
            modes: "nt".into(),
            topic: Some(("hello".into(), "Bob".into(), 7)),
            bans: vec![("*!*@bad".into(), "Bob".into(), 6)],
            ..Default::default()
        };
        assert!(register_channel(&c, &row, "bob").unwrap().is_some());
        assert!(register_channel(&c, &row, "bob").unwrap().is_none());
        assert!(set_access(&c, "#room", "eve", Some(Level::Op)).unwrap());
        let all = all_channels(&c).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].founder, "Bob");
        assert_eq!(all[0].access, vec![("eve".into(), "Eve".into(), Level::Op)]);
        assert_eq!(all[0].topic.as_ref().unwrap().0, "hello");
        assert_eq!(all[0].bans, row.bans);
        let bans = vec![
            ("z!*@*".to_string(), "Eve".to_string(), 9),
            ("a!*@*".to_string(), "Bob".to_string(), 8),
        ];
        save_bans(&c, "#room", &bans).unwrap();
        assert_eq!(all_channels(&c).unwrap()[0].bans, bans);
        assert_eq!(
            drop_account(&mut c, "bob").unwrap(),
            Some(vec!["#room".to_string()])
        );
        assert!(all_channels(&c).unwrap().is_empty());
        assert_eq!(drop_account(&mut c, "bob").unwrap(), None);
    }
}
