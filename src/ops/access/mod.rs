//! Who may do what: API tokens (roles, scopes, secrets stored hashed) and the
//! environments' variables (values kept out of every log and record).

pub mod tokens;
pub mod variables;
