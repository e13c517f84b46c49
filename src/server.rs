//! Starting and stopping a server: binds the listeners, raises the open-file
//! limit, builds the reactor and the worker pool, and hands back a handle.
//!
//! This is the library's front door (`Server::start`), used by `parleyd` and by
//! the tests alike. It owns thread lifecycles only; no protocol logic.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use polling::Poller;

use crate::bus::{Outbox, Waker};
use crate::commands::Env;
use crate::config::Config;
use crate::reactor::{ListenKind, Reactor, TransportSetup, WsSettings};
use crate::state::World;
use crate::worker::{self, Shared};

/// Entry point for running a server.
pub struct Server;

/// A running server. Dropping it without `shutdown` leaves it running.
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
    kinds: Vec<ListenKind>,
    stop: Arc<AtomicBool>,
    poller: Arc<Poller>,
    reactor: Option<JoinHandle<io::Result<()>>>,
    workers: Vec<JoinHandle<()>>,
    accounts: crate::accounts::Accounts,
}

/// Descriptors kept back from the connection budget for listeners, logs and
/// the poller itself.
const RESERVED_FDS: u64 = 32;

/// Raises the soft open-file limit to the hard one; returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            log::warn!("could not raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Listen queue length asked of the kernel (capped by net.core.somaxconn).
/// std's default of 128 overflows under bursts of connections, and a dropped
/// SYN costs the client a one-second retransmit.
const LISTEN_BACKLOG: i32 = 4096;

/// Binds a listening socket with a deep accept queue.
pub fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

impl Server {
    /// Binds every listen address and starts the reactor and workers.
    pub fn start(config: Config) -> io::Result<ServerHandle> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let motd = config
            .motd_lines()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let fd_limit = raise_fd_limit();
        let fd_cap = fd_limit.saturating_sub(RESERVED_FDS) as usize;
        let max_clients = config.max_clients.min(fd_cap);
        if max_clients < config.max_clients {
            log::info!(
                "open-file limit is {fd_limit}: at most {max_clients} clients (max_clients is {})",
                config.max_clients
            );
        }

        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        let mut kinds = Vec::new();
        let groups = [
            (ListenKind::Plain, &config.listen),
            (ListenKind::Tls, &config.listen_tls),
            (ListenKind::Ws, &config.listen_ws),
            (ListenKind::Wss, &config.listen_wss),
        ];
        for (kind, list) in groups {
            for addr in list {
                let l = bind_listener(*addr)
                    .map_err(|e| io::Error::new(e.kind(), format!("listening on {addr}: {e}")))?;
                addrs.push(l.local_addr()?);
                kinds.push(kind);
                listeners.push((l, kind));
            }
        }
        let mut transport = TransportSetup::default();
        if kinds.iter().any(|k| k.is_tls()) {
            transport.tls = Some(crate::reactor::tls::server_config(&config)?);
        }
        if kinds
            .iter()
            .any(|k| matches!(k, ListenKind::Ws | ListenKind::Wss))
        {
            transport.ws = Some(Arc::new(WsSettings {
                origins: config.ws_origins.clone(),
                page: crate::web::PAGE,
            }));
        }

        let poller = Arc::new(Poller::new()?);
        let waker = Arc::new(Waker::new(poller.clone()));
        let (out_tx, out_rx) = crossbeam_channel::unbounded();
        let outbox = Outbox::new(out_tx, waker.clone());
        let n = config.worker_count();
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..n).map(|_| crossbeam_channel::unbounded()).unzip();
        let config = Arc::new(config);
        let shared = Arc::new(Shared {
            world: Mutex::new(World::default()),
            env: Env::new((*config).clone(), motd, senders.clone())
                .with_accounts(crate::accounts::Accounts::from_config(&config)?),
            outbox,
        });
        let accounts = shared.env.accounts.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let reactor = Reactor::new(
            poller.clone(),
            listeners,
            transport,
            senders,
            out_rx,
            waker,
            config.clone(),
            stop.clone(),
            max_clients,
        )?;

        let mut workers = Vec::new();
        for (i, rx) in receivers.into_iter().enumerate() {
            let shared = shared.clone();
            workers.push(
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || worker::run(shared, rx))?,
            );
        }
        let reactor = std::thread::Builder::new()
            .name("reactor".into())
            .spawn(move || reactor.run())?;
        for (a, k) in addrs.iter().zip(&kinds) {
            log::info!("listening on {a} ({}) with {n} workers", k.name());
        }
        Ok(ServerHandle {
            addrs,
            kinds,
            stop,
            poller,
            reactor: Some(reactor),
            workers,
            accounts,
        })
    }
}

impl ServerHandle {
    /// The first bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every bound address.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The first bound address of a kind of listener.
    pub fn addr_of(&self, kind: ListenKind) -> Option<SocketAddr> {
        self.kinds
            .iter()
            .position(|&k| k == kind)
            .map(|i| self.addrs[i])
    }

    /// A handle that can ask the server to stop from another thread (signals).
    pub fn stopper(&self) -> Stopper {
        Stopper {
            stop: self.stop.clone(),
            poller: self.poller.clone(),
        }
    }

    /// Stops accepting, sends every client `ERROR :Server shutting down`,
    /// flushes, and waits for all threads to finish.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stopper().stop();
        self.join()
    }

    /// Waits until the server stops (after a `Stopper::stop`).
    pub fn join(&mut self) -> io::Result<()> {
        let result = match self.reactor.take() {
            Some(r) => r
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("reactor panicked"))),
            None => Ok(()),
        };
        // The reactor has dropped the workers' senders, so they finish.
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        // Saves the workers handed to the accounts pool still reach the disk.
        if !self.accounts.wait_idle(Duration::from_secs(10)) {
            log::warn!("database: some saves were still running at exit");
        }
        result
    }
}

/// Asks a running server to shut down gracefully.
#[derive(Clone)]
pub struct Stopper {
    stop: Arc<AtomicBool>,
    poller: Arc<Poller>,
}

impl Stopper {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.poller.notify();
    }
}
