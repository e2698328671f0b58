//! End-to-end tests: the real `temps` binary against a real Docker engine.

mod common;

mod api;
mod basics;
mod deploy;
mod field;
mod metrics;
mod notify;
mod proxy;
mod proxy_mode;
mod reliability;
mod rollback;
mod schema;
mod serve;
mod shell;
mod swarm;
mod watch;
