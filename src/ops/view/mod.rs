//! Read-only views of the history and the engine, for the commands and the API alike:
//! `status` (what runs, and where it drifted from the history) and the JSON documents.

pub mod documents;
pub mod metrics;
pub mod status;
