//! temps: deploy Docker images on one host, keep every deployment in a local SQLite
//! history, and roll an environment back to an earlier deployment's image in seconds.

pub mod api;
pub mod certificate;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod docker;
pub mod error;
pub mod generate;
pub mod health;
pub mod idle;
pub mod ops;
pub mod output;
pub mod progress;
pub mod proxy;
pub mod schema_version;
pub mod store;
pub mod text;
pub mod wake;

use anyhow::Result;

use cli::{Cli, Command};
use commands::Context;
use output::Output;

/// Run one command line.
pub fn run(cli: Cli, out: &Output) -> Result<()> {
    let ctx = Context {
        out,
        db: cli.db,
        yes: cli.yes,
    };
    match cli.command {
        Command::Project(command) => commands::project::cmd_project(&ctx, command),
        Command::Deploy(args) => commands::deploy::cmd_deploy(&ctx, *args),
        Command::List(args) => commands::history::cmd_list(&ctx, args),
        Command::Show(args) => commands::history::cmd_show(&ctx, args),
        Command::Status(args) => commands::status::cmd_status(&ctx, args),
        Command::Rollback(args) => commands::rollback::cmd_rollback(&ctx, args),
        Command::Promote(args) => commands::rollback::cmd_promote(&ctx, args),
        Command::Env(command) => commands::env::cmd_env(&ctx, command),
        Command::Prune(args) => commands::prune::cmd_prune(&ctx, args),
        Command::Completions(args) => commands::completions::cmd_completions(args),
        Command::Proxy(args) => commands::proxy::cmd_proxy(&ctx, args),
        Command::Serve(args) => commands::serve::cmd_serve(&ctx, args),
        Command::Token(command) => commands::token::cmd_token(&ctx, command),
        Command::Notify(command) => commands::notify::cmd_notify(&ctx, command),
    }
}
