use std::process::ExitCode;

use clap::Parser;

use temps::cli::Cli;
use temps::error::exit_status_of;
use temps::output::Output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.output, cli.quiet);
    match temps::run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            ExitCode::from(exit_status_of(&err).code() as u8)
        }
    }
}
