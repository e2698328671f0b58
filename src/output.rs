//! Everything temps prints: results on stdout (a table or plain lines for people, exactly
//! one JSON document for scripts), progress, notes, warnings and errors on stderr.
//! Colour and spinners only on a terminal, never with `NO_COLOR`; `--quiet` leaves only
//! results and errors.
//!
//! Free text (a reason, an error, an image reference, a name from Docker or the network)
//! never reaches a terminal raw: errors, warnings, spinner lines and table cells pass
//! through [`printable`] here; a command that puts free text in a line of its own (where
//! colour may be mixed in) escapes those pieces with [`shown`] first.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
use console::style;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::{failure_of, Failure};
use crate::progress::{Event, Progress};
use crate::text::printable;

/// Free text as a terminal may show it: control characters written out (`\x1b`).
pub fn shown(text: &str) -> String {
    printable(text).into_owned()
}

/// Text of several lines (an error with an app's last output) as a terminal may show
/// it: each line as [`shown`], the line breaks kept.
pub fn shown_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| printable(line))
        .collect::<Vec<_>>()
        .join("\n")
}

pub struct Output {
    format: OutputFormat,
    quiet: bool,
    stderr_tty: bool,
    stdin_tty: bool,
}

impl Output {
    pub fn new(format: OutputFormat, quiet: bool) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stdout_tty = io::stdout().is_terminal();
        let stderr_tty = io::stderr().is_terminal();
        console::set_colors_enabled(stdout_tty && !no_color);
        console::set_colors_enabled_stderr(stderr_tty && !no_color);
        Output {
            format,
            quiet,
            stderr_tty,
            stdin_tty: io::stdin().is_terminal(),
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// A person is there to answer a prompt.
    pub fn can_prompt(&self) -> bool {
        self.stdin_tty && self.stderr_tty
    }

    /// Print the one JSON document of this command.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        write_stdout(text.as_bytes());
        Ok(())
    }

    /// A result line for people (not printed in JSON mode).
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.is_json() {
            let mut text = text.as_ref().to_string();
            text.push('\n');
            write_stdout(text.as_bytes());
        }
    }

    /// Buffered stdout for output made of many pieces (a long `list`): one write per
    /// buffer, not per row.
    pub fn stream(&self) -> Stream {
        Stream {
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
        }
    }

    /// Commentary on stderr, silenced by `--quiet`.
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", text.as_ref());
        }
    }

    /// Text on stderr that `--quiet` does not silence: what a prompt asks about.
    pub fn aside(&self, text: impl AsRef<str>) {
        eprintln!("{}", text.as_ref());
    }

    pub fn warn(&self, text: impl AsRef<str>) {
        eprintln!(
            "{} {}",
            style("warning:").yellow().bold(),
            shown_lines(text.as_ref())
        );
    }

    /// Print an error and its hint; in JSON mode also the failure's document on stdout.
    pub fn error(&self, err: &anyhow::Error) {
        let failure: Option<&Failure> = failure_of(err);
        let message = format!("{err:#}");
        eprintln!("{} {}", style("error:").red().bold(), shown_lines(&message));
        match failure.and_then(|f| f.hint.as_deref()) {
            Some(hint) => eprintln!("{} {}", style("hint:").cyan().bold(), shown_lines(hint)),
            // An error temps did not foresee still gets a next step.
            None => eprintln!(
                "{} this was not expected: `temps status` shows what each environment serves; \
                 if it happens again, report it with the lines above",
                style("hint:").cyan().bold()
            ),
        }
        if let (true, Some(document)) = (self.is_json(), failure.and_then(|f| f.document.as_ref()))
        {
            let _ = self.json(document);
        }
    }

    pub fn table(&self, header: &[&str], rows: Vec<Vec<String>>) {
        let mut table = Table::new();
        table
            .load_preset(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(
                header
                    .iter()
                    .map(|h| Cell::new(h).add_attribute(comfy_table::Attribute::Bold)),
            );
        if !io::stdout().is_terminal() {
            table.set_width(100);
        }
        for row in rows {
            table.add_row(row.iter().map(|cell| printable(cell).into_owned()));
        }
        for column in table.column_iter_mut() {
            column.set_padding((0, 2));
            column.set_cell_alignment(CellAlignment::Left);
        }
        self.line(table.trim_fmt());
    }

    /// Progress for an operation: a spinner on a terminal, nothing otherwise.
    pub fn progress(&self, title: &str) -> Spinner {
        self.spinner("{spinner:.cyan} {prefix}: {msg} ({elapsed})", title)
    }

    /// A spinner whose steps say all (the watch window's `watching #44: 4m12s left, …`),
    /// starting with `first`.
    pub fn progress_of_steps(&self, first: &str) -> Spinner {
        let spinner = self.spinner("{spinner:.cyan} {msg}", "");
        spinner.step(first);
        spinner
    }

    /// Progress with no spinner at all: warnings only, for what may turn out to need
    /// no spinner (a watch that is not to be).
    pub fn no_progress(&self) -> Spinner {
        Spinner { bar: None }
    }

    fn spinner(&self, template: &str, title: &str) -> Spinner {
        let bar = if self.stderr_tty && !self.quiet {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(shown(title));
            bar.enable_steady_tick(Duration::from_millis(80));
            Some(bar)
        } else {
            None
        };
        Spinner { bar }
    }

    pub fn bold(&self, text: &str) -> String {
        style(text).bold().to_string()
    }

    /// Loud, for what an on-call engineer must not miss (a rolled-back environment).
    pub fn loud(&self, text: &str) -> String {
        style(text).yellow().bold().to_string()
    }

    pub fn good(&self, text: &str) -> String {
        style(text).green().to_string()
    }

    pub fn bad(&self, text: &str) -> String {
        style(text).red().to_string()
    }
}

/// A question to the person at the terminal (`[y/N]`, a picker): their answer, or
/// `None` when they pressed Ctrl-C. The prompt reads Ctrl-C as a key and raises SIGINT,
/// which would end the process with the cursor hidden and the environment's lock held;
/// while the question waits, SIGINT only ends the question, so the command can say that
/// nothing changed and let go of what it holds. The cursor is shown again either way.
pub fn ask<T>(question: impl FnOnce() -> dialoguer::Result<T>) -> anyhow::Result<Option<T>> {
    let answer = {
        let _caught = CtrlCEndsTheQuestion::catch();
        question()
    };
    let interrupted = CTRL_C.swap(false, std::sync::atomic::Ordering::SeqCst);
    match answer {
        Ok(answer) if !interrupted => Ok(Some(answer)),
        Err(dialoguer::Error::IO(e)) if !interrupted && e.kind() != io::ErrorKind::Interrupted => {
            Err(anyhow::Error::new(e).context("asking on the terminal"))
        }
        // Ctrl-C: as the prompt was left.
        _ => {
            let terminal = console::Term::stderr();
            let _ = terminal.show_cursor();
            let _ = terminal.write_line("");
            Ok(None)
        }
    }
}

/// Set by SIGINT while a question waits.
static CTRL_C: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_ctrl_c(_: libc::c_int) {
    CTRL_C.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// SIGINT noted rather than fatal, for as long as this lives; the handler before it
/// comes back on drop. Without `SA_RESTART`, so a read the person interrupts returns.
struct CtrlCEndsTheQuestion {
    previous: Option<libc::sigaction>,
}

impl CtrlCEndsTheQuestion {
    fn catch() -> CtrlCEndsTheQuestion {
        CTRL_C.store(false, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: the structs are zeroed then filled as sigaction(2) expects; the handler
        // only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note_ctrl_c as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            let installed = libc::sigaction(libc::SIGINT, &action, &mut previous) == 0;
            CtrlCEndsTheQuestion {
                previous: installed.then_some(previous),
            }
        }
    }
}

impl Drop for CtrlCEndsTheQuestion {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: puts back the action sigaction(2) returned.
            unsafe {
                libc::sigaction(libc::SIGINT, previous, std::ptr::null_mut());
            }
        }
    }
}

/// Write to stdout; a reader that went away (`temps list | head`) ends us quietly.
fn write_stdout(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

pub struct Stream {
    out: io::BufWriter<io::StdoutLock<'static>>,
}

impl Stream {
    pub fn write(&mut self, bytes: &[u8]) {
        if let Err(e) = self.out.write_all(bytes) {
            gone(e);
        }
    }

    pub fn line(&mut self, text: &str) {
        self.write(text.as_bytes());
        self.write(b"\n");
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Err(e) = self.out.flush() {
            gone(e);
        }
    }
}

/// A reader that went away (`temps list | head`) ends us quietly.
fn gone(e: io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
}

pub struct Spinner {
    bar: Option<ProgressBar>,
}

impl Spinner {
    /// Run `f` (a prompt) with the spinner out of the way.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Progress for Spinner {
    /// The spinner shows the steps; the stages are for event streams and tests.
    fn event(&self, event: Event<'_>) {
        if let (Some(bar), Event::Step(message)) = (&self.bar, event) {
            bar.set_message(shown(message));
        }
    }

    fn warn(&self, message: &str) {
        let line = format!(
            "{} {}",
            style("warning:").yellow().bold(),
            shown_lines(message)
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}
