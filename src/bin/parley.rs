//! `parley`: a plain terminal chat client for parley (or any IRC server).
//!
//! At a terminal (standard input and output both terminals) it is a line
//! editor with history; incoming messages appear above the prompt with
//! `[HH:MM]` stamps, in colour unless `NO_COLOR` is set.
//!
//! Otherwise it runs a script: each line of standard input is typed in turn
//! (the first line is the name when `--nick` is not given), output is plain
//! (no colour, no time stamps, so it can be compared line by line), the next
//! line is read only after registration and after each `/join` is confirmed,
//! and at the end of input it sends QUIT and exits 0 once the server has
//! closed the connection. A refused name (taken, invalid) cannot be fixed by a
//! script, so it ends the client with status 2 and a message on stderr; at a
//! terminal the name is asked for again.
//!
//! Exit status: 0 after quitting, 1 when the connection could not be made or
//! was lost (after the last attempt with `--reconnect`), 2 for a refused name.

use std::process::ExitCode;

use clap::Parser;
use crossbeam_channel::unbounded;
use parley::client::terminal::{self, Interactive, Plain};
use parley::client::{Options, Session};

#[derive(Parser, Debug)]
#[command(
    name = "parley",
    version,
    about = "Chat on a parley server from the terminal",
    after_help = "Type text to talk in the current room; /help lists the commands.\n\
                  With standard input not a terminal, lines are read from it (a script), \
                  output is plain, and a refused name ends the client with status 2."
)]
struct Args {
    /// Server host name or address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6667)]
    port: u16,
    /// Your name in the chat (asked for if not given).
    #[arg(long)]
    nick: Option<String>,
    /// Room to join on connecting ("" joins none).
    #[arg(long, default_value = "#lobby")]
    channel: String,
    /// Connect again (with growing delays, a few times) if the server goes away.
    #[arg(long)]
    reconnect: bool,
    /// Connect with TLS (the server's TLS port, e.g. --port 6697).
    #[arg(long)]
    tls: bool,
    /// With --tls: accept any certificate (for self-signed test servers).
    #[arg(long, requires = "tls")]
    insecure: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let interactive = terminal::is_interactive();
    let opts = Options {
        host: args.host,
        port: args.port,
        nick: args.nick.filter(|n| !n.is_empty()),
        channel: Some(args.channel)
            .filter(|c| !c.is_empty())
            .map(|c| parley::client::input::channel_name(&c)),
        reconnect: args.reconnect,
        tls: match (args.tls, args.insecure) {
            (false, _) => None,
            (true, false) => Some(parley::client::Tls::Verified),
            (true, true) => Some(parley::client::Tls::Insecure),
        },
        interactive,
        color: interactive && terminal::use_color(),
        timestamps: interactive,
    };
    let (tx, rx) = unbounded();
    let code = if interactive {
        match Interactive::start(tx.clone()) {
            Ok(ui) => Session::new(opts, ui, tx, rx).run(),
            Err(e) => {
                eprintln!("parley: cannot use the terminal: {e}");
                1
            }
        }
    } else {
        match Plain::start(tx.clone()) {
            Ok(ui) => Session::new(opts, ui, tx, rx).run(),
            Err(e) => {
                eprintln!("parley: cannot read standard input: {e}");
                1
            }
        }
    };
    ExitCode::from(code as u8)
}
