//! `temps proxy`: run the zero-downtime proxy in the foreground (for systemd) until
//! SIGTERM or SIGINT.

use anyhow::Result;

use super::Context;
use crate::cli::ProxyArgs;
use crate::proxy::tls::acme::{self, AcmeOptions};
use crate::proxy::{self, ProxyOptions};

pub fn cmd_proxy(ctx: &Context, args: ProxyArgs) -> Result<()> {
    let store = ctx.store()?;
    let options = ProxyOptions {
        poll_interval: args.poll_interval.max(std::time::Duration::from_millis(1)),
        shutdown_timeout: args.shutdown_timeout,
        idle_timeout: args.idle_timeout.max(std::time::Duration::from_millis(1)),
        max_connections: args.max_connections as usize,
        http: args.http,
        metrics: args.metrics,
        acme: AcmeOptions {
            directory: args.acme_directory,
            email: args.acme_email,
            ca_root: args.acme_ca_root,
            http_challenge: args.http.is_some(),
            state_dir: acme::state_dir(store.path()),
        },
        ..ProxyOptions::default()
    };
    proxy::run(store, &options)
}
