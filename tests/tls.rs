//! IRC over TLS: a rustls client and a plain TCP client in the same channel,
//! the self-signed certificate made on first start, WHOIS 671, and clients
//! that stall or botch the handshake; WebSocket over TLS (`listen_wss`).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use common::{TestClient, TIMEOUT};
use parley::{Config, ListenKind, Server, ServerHandle};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

fn start(tweak: impl FnOnce(&mut Config)) -> ServerHandle {
    let mut config = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: vec!["127.0.0.1:0".parse().unwrap()],
        workers: 2,
        db: ":memory:".into(),
        ..Config::default()
    };
    tweak(&mut config);
    Server::start(config).expect("server starts")
}

/// A certificate for "localhost" written to `dir`, returned as (cert, key).
fn cert_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, made.cert.pem()).unwrap();
    std::fs::write(&k, made.signing_key.serialize_pem()).unwrap();
    (c, k)
}

/// A TLS stream to `addr` (as "localhost") that trusts exactly the
/// certificate in `ca`; reads time out.
fn tls_stream(
    addr: SocketAddr,
    ca: &Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// A line client over TLS that trusts exactly the certificate in `ca`.
fn tls_client(addr: SocketAddr, ca: &Path) -> TestClient {
    TestClient::over(tls_stream(addr, ca))
}

#[test]
fn tls_client_chats_with_plain_client() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = cert_files(dir.path());
    let server = start(|c| {
        c.flood_rate = 0;
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key);
    });
    let tls_addr = server.addr_of(ListenKind::Tls).unwrap();
    let plain_addr = server.addr_of(ListenKind::Plain).unwrap();

    let mut secure = tls_client(tls_addr, &cert);
    secure.register("secure");
    secure.send("JOIN #mix");
    secure.expect(":secure!~secure@127.0.0.1 JOIN #mix");
    secure.recv_until(|l| l.contains(" 366 "));

    let mut plain = TestClient::connect(plain_addr);
    plain.register("plain");
    plain.join("#mix");
    secure.expect(":plain!~plain@127.0.0.1 JOIN #mix");

    plain.send("PRIVMSG #mix :hello over plain");
    secure.expect(":plain!~plain@127.0.0.1 PRIVMSG #mix :hello over plain");
    secure.send("PRIVMSG #mix :hello over tls");
    plain.expect(":secure!~secure@127.0.0.1 PRIVMSG #mix :hello over tls");
    // A long burst arrives whole and in order through TLS records.
    for i in 0..200 {
        plain.send(&format!("NOTICE secure :{i} {}", "n".repeat(300)));
    }
    for i in 0..200 {
        secure.expect(&format!(
            ":plain!~plain@127.0.0.1 NOTICE secure :{i} {}",
            "n".repeat(300)
        ));
    }

    plain.send("WHOIS secure");
    let whois: Vec<String> = std::iter::from_fn(|| Some(plain.recv()))
        .take_while(|l| !l.contains(" 318 "))
        .collect();
    assert!(
        whois.contains(&":parley.local 671 plain secure :is using a secure connection".to_string()),
        "{whois:?}"
    );
    secure.send("WHOIS plain");
    let whois: Vec<String> = std::iter::from_fn(|| Some(secure.recv()))
        .take_while(|l| !l.contains(" 318 "))
        .collect();
    assert!(!whois.iter().any(|l| l.contains(" 671 ")), "{whois:?}");

    secure.send("QUIT :bye");
    plain.expect(":secure!~secure@127.0.0.1 QUIT :Quit: bye");
    server.shutdown().unwrap();
}

#[test]
fn self_signed_certificate_is_made_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let server = start(|c| c.db = db.clone());
    let cert = dir.path().join("parley-cert.pem");
    assert!(dir.path().join("parley-key.pem").exists());
    let first = std::fs::read(&cert).expect("certificate stored next to the database");
    let mut c = tls_client(server.addr_of(ListenKind::Tls).unwrap(), &cert);
    c.register("first");
    server.shutdown().unwrap();

    let server = start(|c| c.db = db.clone());
    assert_eq!(
        std::fs::read(&cert).unwrap(),
        first,
        "same certificate after restart"
    );
    let mut c = tls_client(server.addr_of(ListenKind::Tls).unwrap(), &cert);
    c.register("second");
    server.shutdown().unwrap();
}

#[test]
fn stalled_handshake_times_out_like_an_unregistered_client() {
    let server = start(|c| c.registration_timeout = 1);
    let mut sock = TcpStream::connect(server.addr_of(ListenKind::Tls).unwrap()).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    // Half a ClientHello, then silence.
    sock.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let mut got = Vec::new();
    match sock.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("not closed within {TIMEOUT:?}: {e}"),
    }
    // At most a TLS alert record (0x15), never the IRC ERROR line in clear.
    assert!(got.is_empty() || got[0] == 0x15, "{got:?}");
    server.shutdown().unwrap();
}

#[test]
fn plain_text_on_the_tls_port_is_refused_and_others_carry_on() {
    let server = start(|_| {});
    let mut sock = TcpStream::connect(server.addr_of(ListenKind::Tls).unwrap()).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.write_all(b"NICK oops\r\nUSER oops 0 * :x\r\n")
        .unwrap();
    let mut got = Vec::new();
    // The server answers with a TLS alert record (0x15) and closes.
    let _ = sock.read_to_end(&mut got);
    assert!(
        got.first() == Some(&0x15) || got.is_empty(),
        "no IRC text on a TLS port: {got:?}"
    );
    let mut plain = TestClient::connect(server.addr_of(ListenKind::Plain).unwrap());
    plain.register("still");
    server.shutdown().unwrap();
}

/// WebSocket over TLS (the `listen_wss` listener): a browser-like client
/// chats with a plain one, and WHOIS shows it as secure.
#[test]
fn websocket_over_tls_chats_with_plain_client() {
    use tungstenite::client::IntoClientRequest;
    use tungstenite::Message;

    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = cert_files(dir.path());
    let server = start(|c| {
        c.listen_tls.clear();
        c.listen_wss = vec!["127.0.0.1:0".parse().unwrap()];
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key);
    });
    let wss_addr = server.addr_of(ListenKind::Wss).unwrap();
    let mut req = format!("wss://localhost:{}/", wss_addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "text.ircv3.net".parse().unwrap());
    let (mut ws, resp) = match tungstenite::client(req, tls_stream(wss_addr, &cert)) {
        Ok(pair) => pair,
        Err(e) => panic!("WebSocket handshake over TLS: {e}"),
    };
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "text.ircv3.net"
    );
    for line in ["NICK websec", "USER websec 0 * :Web Secure", "JOIN #sec"] {
        ws.send(Message::text(line)).unwrap();
    }
    let next = |ws: &mut tungstenite::WebSocket<_>| loop {
        match ws.read().expect("frame within the timeout") {
            Message::Text(t) => return t.as_str().to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    let mut lines = Vec::new();
    assert_eq!(
        next(&mut ws),
        ":parley.local 001 websec :Welcome to the Parley IRC Network, websec!~websec@127.0.0.1"
    );
    loop {
        let l = next(&mut ws);
        lines.push(l.clone());
        if l.contains(" 366 ") {
            break;
        }
    }
    assert!(
        lines.contains(&":websec!~websec@127.0.0.1 JOIN #sec".to_string()),
        "{lines:?}"
    );

    let mut plain = TestClient::connect(server.addr_of(ListenKind::Plain).unwrap());
    plain.register("plain");
    plain.join("#sec");
    assert_eq!(next(&mut ws), ":plain!~plain@127.0.0.1 JOIN #sec");
    plain.send("PRIVMSG #sec :to the secure socket");
    assert_eq!(
        next(&mut ws),
        ":plain!~plain@127.0.0.1 PRIVMSG #sec :to the secure socket"
    );
    ws.send(Message::text("PRIVMSG #sec :back over wss"))
        .unwrap();
    plain.expect(":websec!~websec@127.0.0.1 PRIVMSG #sec :back over wss");
    plain.send("WHOIS websec");
    let whois = plain.recv_until(|l| l.contains(" 671 ") || l.contains(" 318 "));
    assert_eq!(
        whois,
        ":parley.local 671 plain websec :is using a secure connection"
    );
    server.shutdown().unwrap();
}
