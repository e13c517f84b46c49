//! IRC over WebSocket (IRCv3 transport): a tungstenite client chats with a
//! plain TCP client; subprotocols, origins, ping/pong, close, oversized
//! frames, and the chat page on `GET /`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::{TestClient, TIMEOUT};
use parley::{Config, ListenKind, Server, ServerHandle};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

fn start(tweak: impl FnOnce(&mut Config)) -> ServerHandle {
    let mut config = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_ws: vec!["127.0.0.1:0".parse().unwrap()],
        workers: 2,
        db: ":memory:".into(),
        ..Config::default()
    };
    tweak(&mut config);
    Server::start(config).expect("server starts")
}

type Ws = WebSocket<TcpStream>;

/// Opens a WebSocket with the given extra request headers.
fn open(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<(Ws, String), tungstenite::Error> {
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    for (k, v) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    match tungstenite::client(req, sock) {
        Ok((ws, resp)) => {
            let proto = resp
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            Ok((ws, proto))
        }
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(e) => panic!("handshake: {e}"),
    }
}

/// One IRC line from a frame; frames never carry CR or LF.
fn recv(ws: &mut Ws) -> String {
    loop {
        let line = match ws.read().expect("frame within the timeout") {
            Message::Text(t) => t.as_str().to_string(),
            Message::Binary(b) => String::from_utf8(b.to_vec()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        };
        assert!(!line.contains(['\r', '\n']), "CR/LF in a frame: {line:?}");
        return line;
    }
}

fn recv_until(ws: &mut Ws, pred: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        assert!(std::time::Instant::now() < deadline, "line never came");
        let l = recv(ws);
        if pred(&l) {
            return l;
        }
    }
}

fn send(ws: &mut Ws, line: &str) {
    ws.send(Message::text(line)).unwrap();
}

fn register(ws: &mut Ws, nick: &str) {
    send(ws, &format!("NICK {nick}"));
    send(ws, &format!("USER {nick} 0 * :Web {nick}"));
    assert_eq!(
        recv(ws),
        format!(
            ":parley.local 001 {nick} :Welcome to the Parley IRC Network, {nick}!~{nick}@127.0.0.1"
        )
    );
    recv_until(ws, |l| l.contains(" 376 ") || l.contains(" 422 "));
}

#[test]
fn websocket_client_chats_with_plain_client() {
    let server = start(|c| c.flood_rate = 0);
    let ws_addr = server.addr_of(ListenKind::Ws).unwrap();
    let (mut ws, proto) = open(ws_addr, &[("Sec-WebSocket-Protocol", "text.ircv3.net")]).unwrap();
    assert_eq!(proto, "text.ircv3.net");
    register(&mut ws, "webby");
    send(&mut ws, "JOIN #mix");
    assert_eq!(recv(&mut ws), ":webby!~webby@127.0.0.1 JOIN #mix");
    recv_until(&mut ws, |l| l.contains(" 366 "));

    let mut plain = TestClient::connect(server.addr_of(ListenKind::Plain).unwrap());
    plain.register("plain");
    plain.join("#mix");
    assert_eq!(recv(&mut ws), ":plain!~plain@127.0.0.1 JOIN #mix");
    plain.send("PRIVMSG #mix :héllo from tcp");
    assert_eq!(
        recv(&mut ws),
        ":plain!~plain@127.0.0.1 PRIVMSG #mix :héllo from tcp"
    );
    send(&mut ws, "PRIVMSG #mix :hello from the web");
    plain.expect(":webby!~webby@127.0.0.1 PRIVMSG #mix :hello from the web");
    // Many lines, each its own frame, in order.
    for i in 0..300 {
        plain.send(&format!("NOTICE webby :{i}"));
    }
    for i in 0..300 {
        assert_eq!(
            recv(&mut ws),
            format!(":plain!~plain@127.0.0.1 NOTICE webby :{i}")
        );
    }
    plain.send("WHOIS webby");
    let whois = plain.recv_until(|l| l.contains(" 318 ") || l.contains(" 671 "));
    assert!(
        whois.contains(" 318 "),
        "plain WebSocket is not TLS: {whois}"
    );

    // A close frame is answered and the peers see the client leave.
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => break,
            Ok(_) => continue,
            Err(e) => panic!("close not answered: {e}"),
        }
    }
    plain.expect(":webby!~webby@127.0.0.1 QUIT :Connection closed");
    server.shutdown().unwrap();
}

#[test]
fn binary_subprotocol_and_ping() {
    let server = start(|_| {});
    let addr = server.addr_of(ListenKind::Ws).unwrap();
    let (mut ws, proto) = open(
        addr,
        &[("Sec-WebSocket-Protocol", "binary.ircv3.net, text.ircv3.net")],
    )
    .unwrap();
    assert_eq!(proto, "binary.ircv3.net");
    ws.send(Message::binary(b"PING :bin".to_vec())).unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Message::binary(b":parley.local PONG parley.local :bin".to_vec())
    );
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Message::Pong(b"are you there".to_vec().into())
    );
    // No subprotocol at all: text frames.
    let (mut ws, proto) = open(addr, &[]).unwrap();
    assert_eq!(proto, "");
    send(&mut ws, "PING :txt");
    assert_eq!(
        ws.read().unwrap(),
        Message::text(":parley.local PONG parley.local :txt")
    );
    server.shutdown().unwrap();
}

#[test]
fn oversized_frames_are_rejected_and_long_lines_get_417() {
    let server = start(|_| {});
    let addr = server.addr_of(ListenKind::Ws).unwrap();
    let (mut ws, _) = open(addr, &[]).unwrap();
    register(&mut ws, "big");
    send(&mut ws, &format!("PRIVMSG big :{}", "x".repeat(600)));
    assert_eq!(
        recv(&mut ws),
        ":parley.local 417 big :Input line was too long"
    );
    send(&mut ws, &"y".repeat(20 * 1024));
    loop {
        match ws.read() {
            Ok(Message::Close(Some(f))) => {
                assert_eq!(f.code, CloseCode::Size);
                break;
            }
            Ok(Message::Text(t)) => assert_eq!(t.as_str(), "ERROR :Message too big"),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    server.shutdown().unwrap();
}

#[test]
fn origins_are_checked() {
    let server = start(|_| {});
    let addr = server.addr_of(ListenKind::Ws).unwrap();
    match open(addr, &[("Origin", "http://evil.example")]) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        Err(e) => panic!("wrong refusal: {e}"),
        Ok(_) => panic!("a foreign page got in"),
    }
    // The page the listener serves itself is allowed.
    let own = format!("http://{addr}");
    let (mut ws, _) = open(addr, &[("Origin", &own)]).unwrap();
    register(&mut ws, "local");
    server.shutdown().unwrap();

    let server = start(|c| c.ws_origins = vec!["https://chat.example".into()]);
    let addr = server.addr_of(ListenKind::Ws).unwrap();
    open(addr, &[("Origin", "https://chat.example")]).expect("listed origin");
    assert!(open(addr, &[("Origin", "http://evil.example")]).is_err());
    server.shutdown().unwrap();
}

#[test]
fn get_serves_the_chat_page() {
    let server = start(|_| {});
    let addr = server.addr_of(ListenKind::Ws).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    sock.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply:.200}");
    assert!(reply.contains("Content-Type: text/html; charset=utf-8\r\n"));
    let body = reply.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(body, parley::web::PAGE);
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.write_all(b"GET /nope HTTP/1.1\r\n\r\n").unwrap();
    let mut reply = String::new();
    sock.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 404 Not Found\r\n"));
    server.shutdown().unwrap();
}

#[test]
fn stalled_upgrade_times_out() {
    let server = start(|c| c.registration_timeout = 1);
    let mut sock = TcpStream::connect(server.addr_of(ListenKind::Ws).unwrap()).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut reply = Vec::new();
    sock.read_to_end(&mut reply)
        .expect("closed within the timeout");
    assert!(reply.is_empty(), "no IRC text to an HTTP client");
    server.shutdown().unwrap();
}
