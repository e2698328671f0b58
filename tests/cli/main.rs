//! End-to-end tests: the real `temps` binary against a real Docker engine.

mod common;

mod basics;
mod deploy;
mod rollback;
