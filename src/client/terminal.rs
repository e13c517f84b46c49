//! The client's two front ends, both implementing [`Ui`].
//!
//! - [`Plain`]: for scripts (standard input is not a terminal). Reads one
//!   line of stdin each time the session asks, prints lines to stdout as they
//!   are, fatal messages to stderr; no prompts.
//! - [`Interactive`]: for a person at a terminal. A rustyline editor (line
//!   editing, history) runs on its own thread; incoming lines are printed
//!   through rustyline's external printer, which redraws the prompt and the
//!   half-typed text below them instead of garbling it.
//!
//! This module owns the terminal and standard input/output; it knows nothing
//! of IRC.

use std::io::{self, BufRead, IsTerminal, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::{unbounded, Receiver, Sender};
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};

use super::session::{Ask, Ui};
use super::Incoming;

/// The prompt shown when asking for a name.
pub const NAME_PROMPT: &str = "Your name: ";

/// Line-by-line standard input and plain standard output, for scripts.
pub struct Plain {
    asks: Sender<Ask>,
}

impl Plain {
    /// Starts the stdin reader thread, which sends to `events`.
    pub fn start(events: Sender<Incoming>) -> io::Result<Plain> {
        let (asks, asked) = unbounded::<Ask>();
        thread::Builder::new()
            .name("parley-stdin".into())
            .spawn(move || {
                let stdin = io::stdin();
                let mut lines = stdin.lock().lines();
                for _ in asked.iter() {
                    let next = match lines.next() {
                        Some(Ok(line)) => Incoming::Input(line),
                        _ => Incoming::InputEnd,
                    };
                    let end = next == Incoming::InputEnd;
                    if events.send(next).is_err() || end {
                        return;
                    }
                }
            })?;
        Ok(Plain { asks })
    }
}

impl Ui for Plain {
    fn show(&mut self, line: &str) {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn fatal(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn ask(&mut self, ask: Ask) {
        // A person typing into a plain client (output redirected) still
        // needs to know a name is wanted.
        if ask == Ask::Name && io::stdin().is_terminal() {
            eprint!("{NAME_PROMPT}");
        }
        let _ = self.asks.send(ask);
    }
}

type Printer = Box<dyn ExternalPrinter + Send>;

/// A line editor on a terminal, for people.
pub struct Interactive {
    asks: Sender<Ask>,
    /// Shared with the editor thread, which takes it while it erases the
    /// line just typed, so nothing is printed in between.
    printer: Arc<Mutex<Printer>>,
    /// The terminal's settings before the editor touched them, put back if
    /// we exit while a prompt is open.
    saved: Option<nix::sys::termios::Termios>,
}

impl Interactive {
    /// Creates the editor and starts its thread, which sends to `events`.
    pub fn start(events: Sender<Incoming>) -> io::Result<Interactive> {
        let saved = nix::sys::termios::tcgetattr(io::stdin().as_fd()).ok();
        let mut editor = DefaultEditor::new().map_err(io::Error::other)?;
        let printer: Printer =
            Box::new(editor.create_external_printer().map_err(io::Error::other)?);
        let printer = Arc::new(Mutex::new(printer));
        let (asks, asked) = unbounded::<Ask>();
        let shared = printer.clone();
        thread::Builder::new()
            .name("parley-editor".into())
            .spawn(move || edit_loop(editor, asked, events, shared))?;
        Ok(Interactive {
            asks,
            printer,
            saved,
        })
    }
}

fn edit_loop(
    mut editor: DefaultEditor,
    asked: Receiver<Ask>,
    events: Sender<Incoming>,
    printer: Arc<Mutex<Printer>>,
) {
    for ask in asked.iter() {
        let (prompt, chat) = match &ask {
            Ask::Name => (NAME_PROMPT.to_string(), false),
            Ask::Chat(p) => (p.clone(), true),
        };
        let next = match editor.readline(&prompt) {
            Ok(line) => {
                if chat {
                    // The session prints what was said in its own format, so
                    // take the raw typed line off the screen.
                    let cols = editor
                        .dimensions()
                        .map_or(80, |(c, _)| usize::from(c).max(1));
                    let _guard = printer.lock();
                    erase_typed(&prompt, &line, cols);
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                }
                Incoming::Input(line)
            }
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => Incoming::InputEnd,
            Err(_) => Incoming::InputEnd,
        };
        let end = next == Incoming::InputEnd;
        if events.send(next).is_err() || end {
            return;
        }
    }
}

/// Moves up over the rows the prompt and the typed line took and clears them.
fn erase_typed(prompt: &str, line: &str, cols: usize) {
    let width = prompt.chars().count() + line.chars().count();
    let rows = width / cols + 1;
    let mut out = io::stdout().lock();
    let _ = write!(out, "\x1b[{rows}A\r\x1b[J");
    let _ = out.flush();
}

impl Ui for Interactive {
    fn show(&mut self, line: &str) {
        if let Ok(mut p) = self.printer.lock() {
            let _ = p.print(format!("{line}\n"));
        }
    }

    fn fatal(&mut self, line: &str) {
        // The editor may be in raw mode on its thread: put the terminal back
        // before the process ends, then clear the prompt's row.
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSADRAIN,
                saved,
            );
        }
        let _guard = self.printer.lock();
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "\r\x1b[K{line}");
    }

    fn ask(&mut self, ask: Ask) {
        let _ = self.asks.send(ask);
    }
}

/// True when both standard input and output are terminals: a person is
/// typing and reading.
pub fn is_interactive() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Colour only on a terminal and only when `NO_COLOR` is unset (or empty).
pub fn use_color() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
