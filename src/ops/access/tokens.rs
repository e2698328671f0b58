//! API tokens: who may do what through `temps serve`, and where.
//!
//! A secret is `tps_` and 40 letters and digits from the kernel's random source. It is
//! printed once, at creation; the history keeps its SHA-256 only. A request's secret is
//! hashed and compared with every stored hash in constant time (no early exit), so
//! neither the comparison nor the number of tokens checked says how close a guess came.

use std::io::Read;

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::error::{check_name, ExitStatus, Failure};
use crate::store::{NewToken, Store, TokenRecord};

/// What a token may do; each role may do everything the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read projects, deployments, status and progress.
    Reader,
    /// The on-call: also roll back and promote.
    Responder,
    /// Also deploy new images.
    Deployer,
    /// Also variables' values, project settings and prune.
    Admin,
}

/// One thing a request may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    /// Roll back and promote.
    Redeploy,
    Deploy,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reader, Role::Responder, Role::Deployer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Responder => "responder",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn allows(self, permission: Permission) -> bool {
        let needed = match permission {
            Permission::Read => Role::Reader,
            Permission::Redeploy => Role::Responder,
            Permission::Deploy => Role::Deployer,
            Permission::Admin => Role::Admin,
        };
        self >= needed
    }
}

/// An authenticated caller: a live token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub project: Option<String>,
    pub environment: Option<String>,
    pub expires_at: Option<i64>,
    /// To tell this token from a later one of the same name.
    pub secret_hash: String,
}

impl Token {
    pub fn may(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    /// Whether the project exists for this token.
    pub fn sees_project(&self, project: &str) -> bool {
        self.project.as_deref().is_none_or(|p| p == project)
    }

    /// Whether the environment of a project exists for this token.
    pub fn sees(&self, project: &str, environment: &str) -> bool {
        self.sees_project(project) && self.environment.as_deref().is_none_or(|e| e == environment)
    }

    /// `token:NAME`, the history's `created_by` for what this token does.
    pub fn actor(&self) -> String {
        format!("token:{}", self.name)
    }
}

/// What `token create` asks for.
pub struct Request<'a> {
    pub name: &'a str,
    pub role: Role,
    pub project: Option<&'a str>,
    pub environment: Option<&'a str>,
    /// Milliseconds from now.
    pub expires_in: Option<std::time::Duration>,
    pub created_by: &'a str,
}

/// A token just made, with its secret: the only time the secret exists outside the
/// caller's hands.
pub struct Created {
    pub record: TokenRecord,
    pub secret: String,
}

/// Make a token.
pub fn create(store: &mut Store, request: Request) -> Result<Created> {
    check_name("token", request.name)?;
    if let Some(project) = request.project {
        // A scope names a project that exists: a typo would make a token that sees nothing.
        store.project(project)?;
    }
    match (request.project, request.environment) {
        (None, Some(_)) => {
            return Err(
                Failure::usage("--environment scopes a token within a project")
                    .hint("add `--project P`")
                    .into(),
            )
        }
        (_, Some(env)) => check_name("environment", env)?,
        _ => {}
    }
    let secret = new_secret()?;
    let now = now_ms();
    let expires_at = match request.expires_in {
        Some(d) if d.is_zero() => {
            return Err(Failure::usage("--expires must be longer than 0s")
                .hint("like `--expires 90d`; leave it out for a token that does not expire")
                .into())
        }
        Some(d) => Some(now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
        None => None,
    };
    let hash = hash_secret(&secret);
    let stored = store.create_token(&NewToken {
        name: request.name,
        role: request.role.as_str(),
        project: request.project,
        environment: request.environment,
        secret_hash: &hash,
        created_at: now,
        created_by: request.created_by,
        expires_at,
    })?;
    if !stored {
        return Err(Failure::new(
            ExitStatus::Refused,
            format!("a token named `{}` exists already", request.name),
        )
        .hint(format!(
            "choose another name, or `temps token revoke {}` first",
            request.name
        ))
        .into());
    }
    let record = store
        .tokens()?
        .into_iter()
        .find(|t| t.name == request.name)
        .context("reading the new token")?;
    Ok(Created { record, secret })
}

/// Revoke a token by name: it stops working at once.
pub fn revoke(store: &mut Store, name: &str) -> Result<()> {
    check_name("token", name)?;
    if store.delete_token(name)? {
        Ok(())
    } else {
        Err(
            Failure::not_found(format!("there is no token named `{name}`"))
                .hint("`temps token list` shows the tokens")
                .into(),
        )
    }
}

/// Why a secret does not authenticate (all answer 401, with the same words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// No token matches (never made, revoked, or mistyped).
    Unknown,
    Expired,
}

/// The live token whose secret this is. Every stored hash is compared, in constant time.
pub fn authenticate(store: &Store, secret: &str) -> Result<Result<Token, Unauthenticated>> {
    Ok(identify(store, secret)?.map(|identified| {
        if identified.use_due {
            note_use(store, identified.token.id);
        }
        identified.token
    }))
}

/// A live token, and whether its use is due to be noted ([`note_use`]).
pub struct Identified {
    pub token: Token,
    pub use_due: bool,
}

/// [`authenticate`] that only reads: the caller notes the use when it is due, where a
/// write may wait for the history (`temps serve` does it off its request path).
pub fn identify(store: &Store, secret: &str) -> Result<Result<Identified, Unauthenticated>> {
    // A secret has a fixed shape; anything else cannot match, but is still hashed and
    // compared so that a malformed guess takes as long as a well-formed one.
    let hash = hash_secret(secret);
    let mut found = None;
    for record in store.tokens()? {
        if constant_time_eq(record.secret_hash.as_bytes(), hash.as_bytes()) {
            found = Some(record);
        }
    }
    let Some(record) = found.filter(|_| looks_like_secret(secret)) else {
        return Ok(Err(Unauthenticated::Unknown));
    };
    let now = now_ms();
    if record.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(Unauthenticated::Expired));
    }
    // Written at most once a minute, so reads do not queue behind writes.
    let use_due = record.last_used_at.is_none_or(|at| now - at >= 60_000);
    Ok(Ok(Identified {
        token: token_of(record),
        use_due,
    }))
}

/// Note that token `id` was used now (for `token list`). A busy history does not fail
/// anything for want of this note.
pub fn note_use(store: &Store, id: i64) {
    let _ = store.touch_token(id, now_ms());
}

/// The live token of this name whose secret hash is still `secret_hash` (a session
/// stays tied to the token it was opened with: revoked, expired or re-created, it ends).
pub fn session_token(store: &Store, name: &str, secret_hash: &str) -> Result<Option<Token>> {
    let now = now_ms();
    Ok(store
        .tokens()?
        .into_iter()
        .find(|t| {
            t.name == name && constant_time_eq(t.secret_hash.as_bytes(), secret_hash.as_bytes())
        })
        .filter(|t| t.expires_at.is_none_or(|at| at > now))
        .map(token_of))
}

fn token_of(record: TokenRecord) -> Token {
    Token {
        id: record.id,
        role: Role::parse(&record.role).unwrap_or(Role::Reader),
        name: record.name,
        project: record.project,
        environment: record.environment,
        expires_at: record.expires_at,
        secret_hash: record.secret_hash,
    }
}

/// `tps_` and 40 characters of `[A-Za-z0-9]`.
pub fn looks_like_secret(text: &str) -> bool {
    text.len() == 44
        && text.starts_with("tps_")
        && text[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Lowercase hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal bytes, compared without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new secret from the kernel's random source, each character unbiased (bytes of
/// 248 or more are drawn again: 248 is the largest multiple of 62 under 256).
pub fn new_secret() -> Result<String> {
    random_string(40).map(|s| format!("tps_{s}"))
}

/// `len` unbiased characters of `[A-Za-z0-9]`.
pub fn random_string(len: usize) -> Result<String> {
    let mut random = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    let mut out = String::with_capacity(len);
    let mut buffer = [0u8; 64];
    while out.len() < len {
        random
            .read_exact(&mut buffer)
            .context("reading /dev/urandom")?;
        for b in buffer {
            if b < 248 && out.len() < len {
                out.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_their_shape_and_differ() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert!(looks_like_secret(&a), "{a}");
        assert_ne!(a, b);
        assert!(!looks_like_secret("tps_short"));
        assert!(!looks_like_secret(&format!("tps_{}", "!".repeat(40))));
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles_nest() {
        assert!(!Role::Reader.allows(Permission::Redeploy));
        assert!(Role::Responder.allows(Permission::Redeploy));
        assert!(!Role::Responder.allows(Permission::Deploy));
        assert!(Role::Deployer.allows(Permission::Deploy));
        assert!(!Role::Deployer.allows(Permission::Admin));
        assert!(Role::Admin.allows(Permission::Admin));
        assert!(Role::Reader.allows(Permission::Read));
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn create_authenticate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        let made = create(
            &mut store,
            Request {
                name: "ci",
                role: Role::Responder,
                project: None,
                environment: None,
                expires_in: None,
                created_by: "alice",
            },
        )
        .unwrap();
        assert_eq!(made.record.secret_hash, hash_secret(&made.secret));
        let token = authenticate(&store, &made.secret).unwrap().unwrap();
        assert_eq!(token.role, Role::Responder);
        assert_eq!(token.actor(), "token:ci");
        assert!(store.tokens().unwrap()[0].last_used_at.is_some());
        assert_eq!(
            authenticate(&store, &new_secret().unwrap()).unwrap(),
            Err(Unauthenticated::Unknown)
        );
        revoke(&mut store, "ci").unwrap();
        assert_eq!(
            authenticate(&store, &made.secret).unwrap(),
            Err(Unauthenticated::Unknown)
        );
    }
}
