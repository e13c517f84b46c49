//! The client's network I/O: one TCP connection to the server.
//!
//! This module owns the socket and nothing else. A reader thread splits what
//! arrives into lines and hands each one, tagged with the connection's
//! generation, to the session's event channel; when the socket closes it sends
//! one [`Incoming::Closed`]. Writing happens on the caller's thread. Lines are
//! neither parsed nor built here (that is [`crate::protocol`]).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crossbeam_channel::Sender;
use rustls::pki_types::ServerName;

use super::{Incoming, Tls};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// With TLS the reader and writer share one rustls session behind a lock; the
/// reader waits at most this long per read so a writer is never held up more.
const TLS_READ_SLICE: Duration = Duration::from_millis(50);

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// The writing half of a live connection.
pub struct Connection {
    /// The socket itself, for shutting it down.
    raw: TcpStream,
    tls: Option<Arc<Mutex<TlsStream>>>,
    /// Which connection this is: lines from an older one are ignored.
    pub generation: u64,
}

impl Connection {
    /// Connects to `host:port` (with TLS if asked) and starts the reader
    /// thread, which sends [`Incoming::Line`] for each line and one
    /// [`Incoming::Closed`] at the end.
    pub fn open(
        host: &str,
        port: u16,
        tls: Option<Tls>,
        generation: u64,
        events: Sender<Incoming>,
    ) -> io::Result<Self> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
        let mut stream = None;
        for addr in (host, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or(last)?;
        stream.set_nodelay(true)?;
        let raw = stream.try_clone()?;
        let tls = match tls {
            None => {
                thread::Builder::new()
                    .name("parley-net".into())
                    .spawn(move || read_lines(BufReader::new(stream), generation, events))?;
                None
            }
            Some(mode) => {
                let session = Arc::new(Mutex::new(tls_session(host, stream, mode)?));
                raw.set_read_timeout(Some(TLS_READ_SLICE))?;
                let reader = SharedTls(session.clone());
                thread::Builder::new()
                    .name("parley-net".into())
                    .spawn(move || read_lines(BufReader::new(reader), generation, events))?;
                Some(session)
            }
        };
        Ok(Connection {
            raw,
            tls,
            generation,
        })
    }

    /// Writes one encoded line (CRLF included).
    pub fn send(&mut self, line: &[u8]) -> io::Result<()> {
        match &self.tls {
            None => (&self.raw).write_all(line),
            Some(session) => {
                let mut s = session.lock().unwrap_or_else(|p| p.into_inner());
                s.write_all(line)?;
                s.flush()
            }
        }
    }

    /// Closes both directions; the reader thread then reports `Closed`.
    pub fn close(&self) {
        let _ = self.raw.shutdown(Shutdown::Both);
    }
}

/// Builds the rustls client session for `host`.
fn tls_session(host: &str, stream: TcpStream, mode: Tls) -> io::Result<TlsStream> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?;
    let config = match mode {
        Tls::Verified => {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Tls::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth(),
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
    Ok(rustls::StreamOwned::new(conn, stream))
}

/// The reader's view of a TLS session it shares with the writer: each read
/// holds the lock for at most one read slice; a timed-out slice is not an
/// error, just another turn.
struct SharedTls(Arc<Mutex<TlsStream>>);

impl Read for SharedTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let result = self.0.lock().unwrap_or_else(|p| p.into_inner()).read(buf);
            match result {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // Let a writer take the lock between slices.
                    thread::yield_now();
                }
                other => return other,
            }
        }
    }
}

/// `--insecure`: accepts any server certificate, still checking that the
/// handshake signatures are valid for the certificate presented.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn read_lines(mut reader: impl BufRead, generation: u64, events: Sender<Incoming>) {
    let mut buf = Vec::with_capacity(512);
    let why = loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break None,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\r', '\n']).to_string();
                if events.send(Incoming::Line(generation, line)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Some(e.to_string()),
        }
    };
    let _ = events.send(Incoming::Closed(generation, why));
}
