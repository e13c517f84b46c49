//! Any bytes through the line parser, and every parsed message back through
//! the encoder: parsing must never panic, and what the encoder writes must
//! parse back to the same command and parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::protocol::{LineBuilder, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The reactor hands over single lines without their ending.
    let line = text.split(['\r', '\n']).next().unwrap_or("");
    let Ok(msg) = Message::parse(line) else {
        return;
    };
    let _ = msg.source_nick();
    let _ = msg.tag("time");
    // Only well-formed commands (letters or digits) are ever re-encoded by the
    // server in the command position; others just get 421.
    if !msg.command.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return;
    }
    // Re-encode the way the server relays: each parameter through param()
    // except the last, which goes through trailing().
    let params = msg.params();
    let mut b = LineBuilder::new(msg.source, msg.command);
    if let Some((last, middle)) = params.split_last() {
        for p in middle {
            b.push_param(p);
        }
        b = b.trailing(last);
    }
    let bytes = b.into_bytes();
    let encoded = std::str::from_utf8(&bytes).expect("encoder writes UTF-8");
    assert_eq!(
        encoded.matches("\r\n").count(),
        1,
        "one line only: {encoded:?}"
    );
    let back = Message::parse(encoded).expect("encoded line parses");
    assert_eq!(back.command, msg.command);
    assert_eq!(back.params().len(), params.len(), "{line:?} -> {encoded:?}");
});
