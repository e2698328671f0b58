//! `temps proxy`: run the zero-downtime proxy in the foreground (for systemd) until
//! SIGTERM or SIGINT.

use anyhow::Result;

use super::Context;
use crate::cli::ProxyArgs;
use crate::proxy::{self, ProxyOptions};

pub fn cmd_proxy(ctx: &Context, args: ProxyArgs) -> Result<()> {
    let store = ctx.store()?;
    let options = ProxyOptions {
        poll_interval: args.poll_interval.max(std::time::Duration::from_millis(1)),
        shutdown_timeout: args.shutdown_timeout,
        idle_timeout: args.idle_timeout.max(std::time::Duration::from_millis(1)),
        max_connections: args.max_connections as usize,
        ..ProxyOptions::default()
    };
    proxy::run(store, &options)
}
