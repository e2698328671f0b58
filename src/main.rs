use std::process::ExitCode;

use clap::Parser;

use temps::cli::Cli;
use temps::error::exit_status_of;
use temps::output::Output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    let out = Output::new(cli.output, cli.quiet);
    match temps::run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            ExitCode::from(exit_status_of(&err).code() as u8)
        }
    }
}

/// clap's own answer (help, version, or a usage error, exit 2); a usage error also gets
/// the `hint:` line every temps error ends with.
fn usage_error(err: clap::Error) -> ExitCode {
    let _ = err.print();
    if err.use_stderr() {
        eprintln!(
            "{} `temps help COMMAND` shows what a command takes",
            console::style("hint:").for_stderr().cyan().bold()
        );
    }
    ExitCode::from(err.exit_code() as u8)
}
