//! One file per subcommand: read the arguments, call the operations, print.

pub mod completions;
pub mod deploy;
pub mod env;
pub mod history;
pub mod notify;
pub mod project;
pub mod proxy;
pub mod prune;
pub mod rollback;
pub mod serve;
pub mod status;
pub mod token;
pub mod watching;

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::output::Output;
use crate::store::{self, Store};

/// What every command gets: where the history is, how to print, and the global answers.
pub struct Context<'a> {
    pub out: &'a Output,
    pub db: Option<PathBuf>,
    pub yes: bool,
}

impl Context<'_> {
    pub fn store(&self) -> Result<Store> {
        let path = match &self.db {
            Some(path) => path.clone(),
            None => store::default_path()?,
        };
        Store::open(&path)
    }
}

/// A current-thread runtime: temps does one thing at a time, and starts fast.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(future))
}
