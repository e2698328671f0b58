//! API tokens: a name, a role, an optional scope and expiry, and the SHA-256 of the
//! secret (never the secret itself).

use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension, Row};

use super::Store;

/// A token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub project: Option<String>,
    pub environment: Option<String>,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A token to store.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub project: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub secret_hash: &'a str,
    pub created_at: i64,
    pub created_by: &'a str,
    pub expires_at: Option<i64>,
}

const TOKEN_COLUMNS: &str = "id, name, role, project, environment, secret_hash, created_at, \
     created_by, expires_at, last_used_at";

fn token_from_row(row: &Row) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        project: row.get(3)?,
        environment: row.get(4)?,
        secret_hash: row.get(5)?,
        created_at: row.get(6)?,
        created_by: row.get(7)?,
        expires_at: row.get(8)?,
        last_used_at: row.get(9)?,
    })
}

impl Store {
    /// Store a new token; `false` when the name is taken (nothing is written then).
    pub fn create_token(&mut self, token: &NewToken) -> Result<bool> {
        self.write(|tx| {
            let taken: bool = tx
                .query_row("SELECT 1 FROM tokens WHERE name = ?1", [token.name], |_| {
                    Ok(true)
                })
                .optional()
                .context("reading the tokens")?
                .unwrap_or(false);
            if taken {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO tokens (name, role, project, environment, secret_hash, created_at, created_by, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    token.name,
                    token.role,
                    token.project,
                    token.environment,
                    token.secret_hash,
                    token.created_at,
                    token.created_by,
                    token.expires_at
                ],
            )
            .context("storing the token")?;
            Ok(true)
        })
    }

    /// Every token, by name.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY name"))?;
        let rows = stmt.query_map([], token_from_row)?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the tokens")
    }

    /// Delete a token; `false` when there was none of that name.
    pub fn delete_token(&mut self, name: &str) -> Result<bool> {
        let deleted = self
            .conn
            .execute("DELETE FROM tokens WHERE name = ?1", [name])
            .context("revoking the token")?;
        Ok(deleted > 0)
    }

    /// Note that a token was used at `at`.
    pub fn touch_token(&self, id: i64, at: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1")?
            .execute(params![id, at])
            .context("noting the token's use")?;
        Ok(())
    }
}
