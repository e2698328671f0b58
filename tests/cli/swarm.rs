//! Swarm mode on a real multi-node swarm: the lab `tests/swarm-up.sh` builds (three
//! engines in network namespaces, one registry), reached through `require_swarm!()`.

mod lab;
mod support;

mod api;
mod deploy;
mod failure;
mod interrupt;
mod node;
mod prune;
mod registry;
mod rollback;
mod status;
mod watch;
