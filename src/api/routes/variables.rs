//! The routes of an environment's variables: their names for every reader, their
//! values for an admin (`?reveal=true`), set and unset by an admin, as `temps env` does.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::Answer;
use crate::api::app::App;
use crate::api::auth::{environment_not_found, Admin, InEnvironment, Read};
use crate::api::error::ApiError;
use crate::api::input::{Document, Flag, JsonBody, NoQuery, Params};
use crate::ops::access::tokens::Permission;
use crate::ops::access::variables;
use crate::ops::pipeline::lock::Asker;
use crate::ops::view::documents;
use crate::progress::{Event, Progress};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RevealQuery {
    reveal: Option<Flag>,
}

/// `{"KEY": "VALUE", …}`.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct Pairs(BTreeMap<String, String>);

impl Document for Pairs {
    /// Values are secrets: a parse error says where, never what.
    fn malformed(_: serde_json::Error) -> ApiError {
        ApiError::bad_request("the body must be one JSON object of names to string values")
            .hint(r#"like {"DATABASE_URL": "postgres://…", "LOG_LEVEL": "info"}"#)
    }
}

pub(super) async fn variables_list(
    State(app): State<Arc<App>>,
    at: InEnvironment<Read>,
    Params(query): Params<RevealQuery>,
) -> Answer {
    let reveal = query.reveal.unwrap_or_default().0;
    if reveal && !at.token.may(Permission::Admin) {
        return Err(ApiError::forbidden(format!(
            "token `{}` is a {}: it may not read variables' values",
            at.token.name,
            at.token.role.as_str()
        ))
        .hint("ask an admin for a token with that role (`temps token create`)"));
    }
    let doc = app
        .read(move |store| {
            let values = match at.visible()? {
                Some(id) => store.variables(id)?,
                None => BTreeMap::new(),
            };
            Ok(documents::variables(
                &at.project.name,
                &at.name,
                &values,
                reveal,
            ))
        })
        .await?;
    Ok(Json(doc).into_response())
}

pub(super) async fn variables_set(
    State(app): State<Arc<App>>,
    at: InEnvironment<Admin>,
    Params(NoQuery {}): Params<NoQuery>,
    JsonBody(Pairs(pairs)): JsonBody<Pairs>,
) -> Answer {
    if pairs.is_empty() {
        return Err(
            ApiError::bad_request("no variables given").hint(r#"like {"LOG_LEVEL": "info"}"#)
        );
    }
    let doc = app
        .read(move |store| {
            let InEnvironment {
                token,
                project,
                name: env,
                ..
            } = at;
            let pairs: Vec<(String, String)> = pairs.into_iter().collect();
            let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            let command = format!(
                "env set {} {} (API, {})",
                project.name,
                keys.join(" "),
                token.actor()
            );
            variables::set(
                store,
                &project,
                &env,
                &pairs,
                &Asker {
                    command: &command,
                    user: &token.actor(),
                    wait: None,
                },
                &Quiet,
            )?;
            let values = match store.environment(project.id, &env)? {
                Some(e) => store.variables(e.id)?,
                None => BTreeMap::new(),
            };
            Ok(documents::variables(&project.name, &env, &values, false))
        })
        .await?;
    Ok(Json(doc).into_response())
}

pub(super) async fn variables_unset(
    State(app): State<Arc<App>>,
    at: InEnvironment<Admin>,
    axum::extract::Path((_, _, key)): axum::extract::Path<(String, String, String)>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Answer {
    variables::check_key(&key)?;
    app.read(move |store| {
        if at.visible()?.is_none() {
            return Err(environment_not_found(&at.project, &at.name));
        }
        let InEnvironment {
            token,
            project,
            name: env,
            ..
        } = at;
        let command = format!("env unset {} {key} (API, {})", project.name, token.actor());
        let unset = variables::unset(
            store,
            &project,
            &env,
            std::slice::from_ref(&key),
            &Asker {
                command: &command,
                user: &token.actor(),
                wait: None,
            },
            &Quiet,
        )?;
        match unset {
            Some(done) if !done.removed.is_empty() => Ok(()),
            _ => Err(
                ApiError::not_found(format!("{key} is not set on {}/{env}", project.name))
                    .hint("GET the environment's variables to see their names"),
            ),
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Progress nobody watches (a variables change is one quick write).
struct Quiet;

impl Progress for Quiet {
    fn event(&self, _event: Event<'_>) {}
    fn warn(&self, _message: &str) {}
}
