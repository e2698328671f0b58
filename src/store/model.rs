//! The history's records, as the rest of temps sees them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use crate::clock::rfc3339;
use crate::schema_version::SchemaVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Docker,
    Static,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Docker => "docker",
            Preset::Static => "static",
        }
    }
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "docker" => Ok(Preset::Docker),
            "static" => Ok(Preset::Static),
            other => Err(format!("unknown preset `{other}`")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub preset: Preset,
    pub container_port: Option<u16>,
    pub health_path: Option<String>,
    pub health_timeout: Duration,
    pub health_interval: Duration,
    pub stop_timeout: Duration,
    pub created_at: i64,
    /// Where the project's hooks (`pre-deploy`, `post-rollback`, …) live.
    pub hooks_dir: Option<String>,
    pub hook_timeout: Duration,
    /// How long deploy, rollback and promote watch a new deployment after the switch
    /// by default (zero: not at all).
    pub watch: Duration,
}

/// The settings a project is created with, and the changes `project update` makes.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    pub container_port: Option<u16>,
    /// `Some("")` clears the health path.
    pub health_path: Option<String>,
    pub health_timeout: Option<Duration>,
    pub health_interval: Option<Duration>,
    pub stop_timeout: Option<Duration>,
    /// `Some("")` clears the hooks folder.
    pub hooks_dir: Option<String>,
    pub hook_timeout: Option<Duration>,
    /// The default watch window (`Some(ZERO)`: none).
    pub watch: Option<Duration>,
}

pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_millis(50);
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvState {
    Normal,
    RolledBack,
}

impl EnvState {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvState::Normal => "normal",
            EnvState::RolledBack => "rolled_back",
        }
    }
}

/// Where an environment's containers publish their port: `[IP:]HOST_PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub ip: Option<String>,
    pub port: u16,
}

impl FromStr for Publish {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, port) = match s.rsplit_once(':') {
            Some((ip, port)) => {
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                ip.parse::<std::net::IpAddr>()
                    .map_err(|_| format!("`{ip}` in `{s}` is not an IP address"))?;
                (Some(ip.to_string()), port)
            }
            None => (None, s),
        };
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{port}` in `{s}` is not a port number (1-65535)"))?;
        Ok(Publish { ip, port })
    }
}

impl fmt::Display for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ip {
            Some(ip) if ip.contains(':') => write!(f, "[{ip}]:{}", self.port),
            Some(ip) => write!(f, "{ip}:{}", self.port),
            None => write!(f, "{}", self.port),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub publish: Option<Publish>,
    pub current_deployment_id: Option<i64>,
    pub state: EnvState,
    /// Proxy mode: the public address `temps proxy` serves this environment on.
    pub proxy: Option<String>,
    /// Proxy mode: containers per deployment.
    pub replicas: u32,
    /// Proxy mode: how long in-flight requests may take to finish on the old version.
    pub drain: Duration,
    /// Proxy mode: how long the app's answer may take to begin (zero: no limit).
    pub response_timeout: Duration,
    /// Proxy mode: the hosts it answers on its address (none: every host, the address's
    /// default).
    pub domains: Vec<String>,
    /// Proxy mode: how long a replaced deployment's containers stay warm (running, with
    /// no traffic) after a switch; zero stops them once drained.
    pub standby: Duration,
    /// Swarm mode: the environment is one Swarm service; `replicas` is its task count
    /// and `publish` its host-mode port on every node.
    pub swarm: bool,
    /// Proxy mode: HTTPS on its address, and with which certificates.
    pub tls: Tls,
    /// Proxy mode, with TLS: the `Strict-Transport-Security` max-age (zero: none).
    pub hsts: Duration,
}

impl Environment {
    /// Where it is reached: its published port, or its proxy address.
    pub fn addresses(&self) -> Vec<String> {
        self.publish
            .as_ref()
            .map(ToString::to_string)
            .into_iter()
            .chain(self.proxy.clone())
            .collect()
    }

    /// What a request names to reach it: its domains, or its addresses when it has none
    /// (for the confirmation and the plan).
    pub fn reached_by(&self) -> Vec<String> {
        if self.domains.is_empty() {
            self.addresses()
        } else {
            self.domains.clone()
        }
    }
}

/// How `temps proxy` serves an environment: plain HTTP, or HTTPS with certificates it
/// gets itself (ACME) or with the operator's own (PEM, as checked at deploy).
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Tls {
    #[default]
    Off,
    Acme,
    Own {
        /// The certificate chain, leaf first.
        cert: String,
        key: String,
    },
}

impl Tls {
    /// `off`, `acme` or `own`, as the history keeps it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Tls::Off => "off",
            Tls::Acme => "acme",
            Tls::Own { .. } => "own",
        }
    }

    pub fn is_on(&self) -> bool {
        *self != Tls::Off
    }

    /// From the history's columns; an `own` without its PEM reads as off.
    pub fn from_columns(mode: &str, cert: Option<String>, key: Option<String>) -> Tls {
        match (mode, cert, key) {
            ("acme", _, _) => Tls::Acme,
            ("own", Some(cert), Some(key)) => Tls::Own { cert, key },
            _ => Tls::Off,
        }
    }

    /// The PEM columns: the certificate and the key, for `own`.
    pub fn pem(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Tls::Own { cert, key } => (Some(cert), Some(key)),
            _ => (None, None),
        }
    }
}

/// Never the key: debug output goes to logs.
impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const DEFAULT_STANDBY: Duration = Duration::from_secs(30 * 60);

/// How long the app's answer may take to begin, once the request was sent to it whole,
/// unless its environment says otherwise (`--response-timeout`): then the proxy answers
/// 504 and closes that upstream connection (it may still carry the late answer).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Deploying,
    Deployed,
    Completed,
    Ready,
    Failed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Deploying => "deploying",
            Status::Deployed => "deployed",
            Status::Completed => "completed",
            Status::Ready => "ready",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Served successfully: a rollback may run this deployment's image again.
    pub fn is_rollback_target(self) -> bool {
        matches!(self, Status::Deployed | Status::Completed)
    }

    pub fn is_promote_target(self) -> bool {
        matches!(self, Status::Deployed | Status::Completed | Status::Ready)
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "pending" => Status::Pending,
            "deploying" => Status::Deploying,
            "deployed" => Status::Deployed,
            "completed" => Status::Completed,
            "ready" => Status::Ready,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            other => return Err(format!("unknown deployment status `{other}`")),
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: i64,
    pub project: String,
    pub environment: String,
    pub environment_id: i64,
    pub image: Option<String>,
    pub image_id: Option<String>,
    /// Static preset: the release directory.
    pub artifact: Option<String>,
    pub status: Status,
    /// How it came about: a deploy, a rollback or a promote.
    pub origin: Origin,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub created_by: String,
    pub reason: Option<String>,
    pub error: Option<String>,
    pub containers: Vec<String>,
    /// Variable name → digest of the value it ran with; never the values themselves.
    pub variables_digest: BTreeMap<String, String>,
    /// Proxy mode: until when its containers stay running with no traffic after it was
    /// replaced (when a later switch cut that short: the moment it did).
    pub warm_until: Option<i64>,
    /// The database schema its release migrates to, and the oldest its code runs with.
    pub schema: Option<Schema>,
    /// A rollback or promote below the database's floor: who accepted it (having run
    /// the down migrations).
    pub schema_accepted_by: Option<String>,
}

/// What a release declares of the database: the schema it migrates to, and the oldest
/// schema whose code still runs against it (its own when not declared: not backward
/// compatible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub version: SchemaVersion,
    pub compat: SchemaVersion,
}

impl Schema {
    /// `compat`, else the schema itself; a compat above the schema is refused.
    pub fn declared(
        version: SchemaVersion,
        compat: Option<SchemaVersion>,
    ) -> Result<Schema, String> {
        let compat = compat.unwrap_or_else(|| version.clone());
        if compat > version {
            return Err(format!(
                "the schema compat {compat} is above the schema {version}: a release's code always runs against the schema it migrates to"
            ));
        }
        Ok(Schema { version, compat })
    }
}

/// An environment's database as its history tells it: migrations are never reverted,
/// so it is at the highest schema any of its deployments reached, and needs code of its
/// floor (the highest compat among them) or newer. A rollback accepted below the floor
/// (its down migrations run by a person) starts the count again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub schema: SchemaVersion,
    /// The deployment that brought it there.
    pub schema_by: i64,
    pub floor: SchemaVersion,
    /// The deployment whose compat the floor is.
    pub floor_by: i64,
}

impl Deployment {
    /// Its containers are meant to run warm now (whether they do is Docker's to say).
    pub fn is_warm(&self, now: i64) -> bool {
        self.warm_until.is_some_and(|until| until > now)
    }

    /// `rollback of #41`, `promote of #45`, or nothing.
    pub fn note(&self) -> String {
        match self.origin {
            Origin::Rollback { to: Some(to), .. } => format!("rollback of #{to}"),
            Origin::Promote { of: Some(of) } => format!("promote of #{of}"),
            _ => String::new(),
        }
    }
}

/// How a deployment came about. The history keeps it as the columns the JSON documents
/// show: `is_rollback`, `rolled_back_from_id`, `rolled_back_to_id`, `is_promote`,
/// `promoted_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A deploy of an image or a folder.
    Deploy,
    /// A rollback to the version of `to`, from what served then (`from`; none when
    /// nothing did). An id is gone when prune removed that deployment.
    Rollback { from: Option<i64>, to: Option<i64> },
    /// A promote of `of`.
    Promote { of: Option<i64> },
}

impl Origin {
    /// From the history's columns.
    pub fn from_columns(
        is_rollback: bool,
        from: Option<i64>,
        to: Option<i64>,
        is_promote: bool,
        promoted: Option<i64>,
    ) -> Origin {
        match (is_rollback, is_promote) {
            (true, _) => Origin::Rollback { from, to },
            (false, true) => Origin::Promote { of: promoted },
            (false, false) => Origin::Deploy,
        }
    }

    pub fn is_rollback(self) -> bool {
        matches!(self, Origin::Rollback { .. })
    }

    pub fn is_promote(self) -> bool {
        matches!(self, Origin::Promote { .. })
    }

    /// A rollback's `rolled_back_from_id`.
    pub fn rolled_back_from(self) -> Option<i64> {
        match self {
            Origin::Rollback { from, .. } => from,
            _ => None,
        }
    }

    /// A rollback's `rolled_back_to_id`.
    pub fn rolled_back_to(self) -> Option<i64> {
        match self {
            Origin::Rollback { to, .. } => to,
            _ => None,
        }
    }

    /// A promote's `promoted_id`.
    pub fn promoted(self) -> Option<i64> {
        match self {
            Origin::Promote { of } => of,
            _ => None,
        }
    }

    /// The deployment whose version it runs again: a rollback's target, or the one a
    /// promote promoted.
    pub fn again(self) -> Option<i64> {
        self.rolled_back_to().or(self.promoted())
    }
}

#[cfg(test)]
impl Deployment {
    /// A deployment for unit tests: #7 of web/production, `web:1`, with `status`.
    pub fn sample(status: Status) -> Deployment {
        Deployment {
            id: 7,
            project: "web".into(),
            environment: "production".into(),
            environment_id: 1,
            image: Some("web:1".into()),
            image_id: Some("sha256:1".into()),
            artifact: None,
            status,
            origin: Origin::Deploy,
            created_at: 0,
            finished_at: None,
            created_by: "alice".into(),
            reason: None,
            error: None,
            containers: Vec::new(),
            variables_digest: Default::default(),
            warm_until: None,
            schema: None,
            schema_accepted_by: None,
        }
    }
}

impl Serialize for Deployment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Deployment", 22)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("project", &self.project)?;
        s.serialize_field("environment", &self.environment)?;
        s.serialize_field("image", &self.image)?;
        s.serialize_field("image_id", &self.image_id)?;
        if self.artifact.is_some() {
            s.serialize_field("artifact", &self.artifact)?;
        }
        s.serialize_field("status", &self.status.as_str())?;
        let origin = self.origin;
        s.serialize_field("is_rollback", &origin.is_rollback())?;
        s.serialize_field("rolled_back_from_id", &origin.rolled_back_from())?;
        s.serialize_field("rolled_back_to_id", &origin.rolled_back_to())?;
        s.serialize_field("is_promote", &origin.is_promote())?;
        s.serialize_field("promoted_id", &origin.promoted())?;
        s.serialize_field("created_at", &rfc3339(self.created_at))?;
        s.serialize_field("finished_at", &self.finished_at.map(rfc3339))?;
        s.serialize_field("created_by", &self.created_by)?;
        s.serialize_field("reason", &self.reason)?;
        s.serialize_field("error", &self.error)?;
        s.serialize_field("containers", &self.containers)?;
        s.serialize_field("warm_until", &self.warm_until.map(rfc3339))?;
        s.serialize_field("schema", &self.schema.as_ref().map(|s| &s.version))?;
        s.serialize_field("schema_compat", &self.schema.as_ref().map(|s| &s.compat))?;
        s.serialize_field("schema_accepted_by", &self.schema_accepted_by)?;
        s.end()
    }
}

/// What a new deployment row starts with.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub project_id: i64,
    pub environment_id: i64,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub status: Status,
    pub origin: Origin,
    pub created_by: String,
    pub reason: Option<String>,
    /// What its release declares of the database schema.
    pub schema: Option<Schema>,
    /// Who accepted going below the database's floor.
    pub schema_accepted_by: Option<String>,
}

impl NewDeployment {
    /// An ordinary deploy, `pending`: neither a rollback nor a promote.
    pub fn deploy(
        project_id: i64,
        environment_id: i64,
        created_by: &str,
        reason: Option<String>,
    ) -> NewDeployment {
        NewDeployment {
            project_id,
            environment_id,
            image: None,
            image_id: None,
            status: Status::Pending,
            origin: Origin::Deploy,
            created_by: created_by.to_string(),
            reason,
            schema: None,
            schema_accepted_by: None,
        }
    }
}
