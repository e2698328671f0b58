//! `temps serve`: the HTTP API and the dashboard, in the foreground.

use anyhow::Result;

use super::Context;
use crate::api::{self, ServeOptions};
use crate::cli::ServeArgs;

pub fn cmd_serve(ctx: &Context, args: ServeArgs) -> Result<()> {
    let db = match &ctx.db {
        Some(path) => path.clone(),
        None => crate::store::default_path()?,
    };
    api::serve(ServeOptions {
        db,
        listen: args.listen,
        tls: args.tls_cert.zip(args.tls_key),
        insecure_http: args.insecure_http,
        public_url: args.public_url,
        shutdown_timeout: args.shutdown_timeout,
        idle_timeout: args.idle_timeout,
        metrics: args.metrics,
    })
}
