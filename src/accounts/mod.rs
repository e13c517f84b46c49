//! Accounts: the database handle, the small pool that runs every database
//! query and password hash, login throttles, the live sessions of each account,
//! the cache of registered channels, and the nick-enforcement timer.
//!
//! Chat workers never wait on the disk or on argon2: they hand a job to
//! [`Accounts::spawn`], which runs on the accounts pool, and the job resumes
//! the command on the connection's worker through the
//! [`Resumer`](crate::commands::Resumer). Everything else here is in memory and
//! quick, used by the workers under the world lock.

pub mod password;
pub mod store;
pub mod throttle;
pub mod timer;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use rusqlite::Connection;

use crate::bus::ConnId;
use crate::protocol::irc_lower;
use crate::state::{Client, World};
pub use store::{ChannelRow, Level};
use throttle::Backoff;
pub use timer::Timer;

/// Threads in the accounts pool: enough for two argon2 hashes at once without
/// taking every core of a small machine from the chat workers.
const POOL_THREADS: usize = 2;

/// Shared handle to the account system. Cheap to clone.
#[derive(Clone)]
pub struct Accounts(Arc<Inner>);

struct Inner {
    db: Mutex<Connection>,
    pool: rayon::ThreadPool,
    /// Jobs spawned and not yet finished, so a shutdown can wait for pending
    /// saves (`wait_idle`).
    jobs: Mutex<usize>,
    idle: Condvar,
    timer: Timer,
    /// Failed logins per account key (across every connection).
    throttle: Mutex<HashMap<String, Backoff>>,
    /// Connections logged in to each account key. Entries of connections that
    /// have gone are dropped whenever the account's list is read or changed.
    sessions: Mutex<HashMap<String, Vec<ConnId>>>,
    /// Registered channels by key, loaded at start and kept in step with the
    /// database, so JOIN needs no query.
    channels: Mutex<HashMap<String, ChannelRow>>,
    /// Keys of every account, so that checking a new nick against them
    /// (nick enforcement, on every registration) needs no database query.
    names: Mutex<std::collections::HashSet<String>>,
    grace: Duration,
    /// Account keys with the operator flag from the configuration.
    oper_accounts: Vec<String>,
}

/// Per-connection login state, kept boxed on the client only once used.
#[derive(Debug, Default)]
pub struct ConnAuth {
    /// A login or account creation is being checked: registration waits.
    pub pending: bool,
    /// SASL exchange in progress.
    pub sasl: Sasl,
    /// Failed logins on this connection.
    pub fails: Backoff,
    /// Logged in to an operator account before registration finished.
    pub oper_on_register: bool,
    /// Bumped on every nick change, so a nick-enforcement timer started for
    /// an earlier use of a nick does nothing.
    pub enforce_seq: u32,
}

/// Where a SASL exchange stands.
#[derive(Debug, Default, PartialEq, Eq)]
pub enum Sasl {
    #[default]
    Idle,
    /// `AUTHENTICATE PLAIN` was accepted; base64 data is being gathered.
    Plain(String),
    /// The credentials are being checked on the pool.
    Checking,
}

impl Client {
    /// A login or registration check is in flight (registration waits for it).
    pub fn auth_pending(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.pending)
    }

    pub fn auth_mut(&mut self) -> &mut ConnAuth {
        self.auth.get_or_insert_with(Default::default)
    }

    /// Whether this client is logged in to the account with key `key`.
    pub fn logged_in_as(&self, key: &str) -> bool {
        self.account.as_deref().is_some_and(|a| irc_lower(a) == key)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Accounts {
    /// Opens the database at `path` (`:memory:` for a throwaway one), applies
    /// migrations, loads registered channels and starts the pool and timer.
    pub fn open(
        path: &std::path::Path,
        grace: Duration,
        oper_accounts: &[String],
    ) -> std::io::Result<Accounts> {
        let path = path.display().to_string();
        let err = |e: store::Error| std::io::Error::other(format!("database {path}: {e}"));
        let (conn, (from, to)) = store::open(&path).map_err(err)?;
        let channels = store::all_channels(&conn)
            .map_err(err)?
            .into_iter()
            .map(|c| (c.key.clone(), c))
            .collect::<HashMap<_, _>>();
        let names = store::account_keys(&conn).map_err(err)?;
        let accounts = names.len();
        // The throwaway in-memory databases of tests and tools stay quiet.
        let level = if path == ":memory:" {
            log::Level::Debug
        } else {
            log::Level::Info
        };
        if from != to {
            log::log!(
                level,
                "database {path}: schema migrated from version {from} to {to}"
            );
        }
        log::log!(
            level,
            "database {path}: {accounts} accounts, {} registered channels",
            channels.len()
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(POOL_THREADS)
            .thread_name(|i| format!("accounts-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Accounts(Arc::new(Inner {
            db: Mutex::new(conn),
            pool,
            jobs: Mutex::new(0),
            idle: Condvar::new(),
            timer: Timer::start()?,
            throttle: Mutex::default(),
            sessions: Mutex::default(),
            channels: Mutex::new(channels),
            names: Mutex::new(names),
            grace,
            oper_accounts: oper_accounts.iter().map(|a| irc_lower(a)).collect(),
        })))
    }

    /// Opens the database the configuration names.
    pub fn from_config(c: &crate::Config) -> std::io::Result<Accounts> {
        Accounts::open(
            &c.db,
            Duration::from_secs(c.nick_enforce_grace),
            &c.oper_accounts,
        )
    }

    /// A private in-memory database (for tools and benchmarks).
    pub fn in_memory() -> Accounts {
        Accounts::open(":memory:".as_ref(), Duration::ZERO, &[]).expect("in-memory database opens")
    }

    /// Whether an account with this (lower-cased) key exists.
    pub fn has_account(&self, key: &str) -> bool {
        lock(&self.0.names).contains(key)
    }

    /// Records a newly created account (after the database insert).
    pub fn note_account(&self, key: &str) {
        lock(&self.0.names).insert(key.to_string());
    }

    /// Forgets a dropped account (after the database delete).
    pub fn forget_account(&self, key: &str) {
        lock(&self.0.names).remove(key);
    }

    /// Runs `job` on the accounts pool.
    pub fn spawn(&self, job: impl FnOnce(&Accounts) + Send + 'static) {
        /// Counts the job as finished even if it unwinds.
        struct Done(Accounts);
        impl Drop for Done {
            fn drop(&mut self) {
                let mut jobs = lock(&self.0 .0.jobs);
                *jobs -= 1;
                if *jobs == 0 {
                    self.0 .0.idle.notify_all();
                }
            }
        }
        *lock(&self.0.jobs) += 1;
        let done = Done(self.clone());
        self.0.pool.spawn(move || job(&done.0));
    }

    /// Waits (at most `limit`) until every spawned job has finished; used at
    /// shutdown so that saves already under way reach the disk. Returns
    /// whether the pool went idle.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let jobs = lock(&self.0.jobs);
        let (jobs, _) = self
            .0
            .idle
            .wait_timeout_while(jobs, limit, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *jobs == 0
    }

    /// Runs `f` with the database. Only for jobs on the accounts pool: it may
    /// wait for the disk.
    pub fn db<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut lock(&self.0.db))
    }

    pub fn timer(&self) -> &Timer {
        &self.0.timer
    }

    /// Nick-enforcement grace period; zero means off.
    pub fn grace(&self) -> Duration {
        self.0.grace
    }

    /// Whether the configuration makes this account an operator.
    pub fn config_oper(&self, key: &str) -> bool {
        self.0.oper_accounts.iter().any(|k| k == key)
    }

    /// Time left before the next login attempt on `key` is checked.
    pub fn account_wait(&self, key: &str, now: Instant) -> Option<Duration> {
        lock(&self.0.throttle).get(key).and_then(|b| b.wait(now))
    }

    pub fn account_failed(&self, key: &str, now: Instant) {
        let mut t = lock(&self.0.throttle);
        if t.len() > 10_000 {
            t.retain(|_, b| b.live(now, throttle::PER_ACCOUNT));
        }
        t.entry_ref(key)
            .or_default()
            .fail(throttle::PER_ACCOUNT, now);
    }

    pub fn account_succeeded(&self, key: &str) {
        lock(&self.0.throttle).remove(key);
    }

    /// Records that `conn` is logged in to `key`.
    pub fn add_session(&self, key: &str, conn: ConnId, world: &World) {
        let mut s = lock(&self.0.sessions);
        let list = s.entry_ref(key).or_default();
        list.retain(|c| *c != conn && live(world, *c, key));
        list.push(conn);
    }

    pub fn remove_session(&self, key: &str, conn: ConnId, world: &World) {
        let mut s = lock(&self.0.sessions);
        if let Some(list) = s.get_mut(key) {
            list.retain(|c| *c != conn && live(world, *c, key));
            if list.is_empty() {
                s.remove(key);
            }
        }
    }

    /// The connections logged in to `key`, oldest first.
    pub fn sessions(&self, key: &str, world: &World) -> Vec<ConnId> {
        let mut s = lock(&self.0.sessions);
        let Some(list) = s.get_mut(key) else {
            return Vec::new();
        };
        list.retain(|c| live(world, *c, key));
        let out = list.clone();
        if out.is_empty() {
            s.remove(key);
        }
        out
    }

    /// A registered channel, by key.
    pub fn channel(&self, key: &str) -> Option<ChannelRow> {
        lock(&self.0.channels).get(key).cloned()
    }

    pub fn is_registered_channel(&self, key: &str) -> bool {
        lock(&self.0.channels).contains_key(key)
    }

    /// Changes the cached copy of a registered channel (after, or along with,
    /// the matching database write).
    pub fn update_channel(&self, key: &str, f: impl FnOnce(&mut ChannelRow)) {
        if let Some(c) = lock(&self.0.channels).get_mut(key) {
            f(c);
        }
    }

    pub fn insert_channel(&self, row: ChannelRow) {
        lock(&self.0.channels).insert(row.key.clone(), row);
    }

    pub fn remove_channel(&self, key: &str) {
        lock(&self.0.channels).remove(key);
    }
}

fn live(world: &World, conn: ConnId, key: &str) -> bool {
    world.client(conn).is_some_and(|c| c.logged_in_as(key))
}
