//! `temps serve`: the HTTP API and the dashboard page it serves.

mod dashboard;
