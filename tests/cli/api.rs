//! `temps serve`: the HTTP API end to end, a real server against a real engine; and its
//! dashboard in a real browser.

mod dashboard;
mod edges;
mod operations;
mod routes;
pub(crate) mod server;
