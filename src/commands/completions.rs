//! `temps completions SHELL`: the completion script, generated from the clap definition.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn cmd_completions(args: CompletionsArgs) -> Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "temps", &mut std::io::stdout());
    Ok(())
}
