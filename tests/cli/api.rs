//! `temps serve`: the HTTP API end to end, a real server against a real engine.

mod operations;
mod routes;
pub(crate) mod server;
