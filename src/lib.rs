//! temps: deploy Docker images on one host, keep every deployment in a local SQLite
//! history, and roll an environment back to an earlier deployment's image in seconds.

pub mod cli;
pub mod clock;
pub mod docker;
pub mod error;
pub mod health;
pub mod ops;
pub mod store;
