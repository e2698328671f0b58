//! The command line, as clap types only: doc comments are the help text, and the
//! completions and man pages are generated from these same definitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::clock::parse_duration;
use crate::schema_version::SchemaVersion;
use crate::store::Publish;

/// `--publish [IP:]HOST_PORT`.
/// `--schema`, `--schema-compat`: a number or dotted numbers.
fn parse_schema_version(text: &str) -> Result<SchemaVersion, String> {
    text.parse()
}

fn parse_publish(text: &str) -> Result<Publish, String> {
    text.parse::<Publish>()
        .map_err(|e| format!("{e} (like `8080` or `127.0.0.1:8080`)"))
}

/// `--proxy IP:PORT`, normalised as the route stores it.
fn parse_listen(text: &str) -> Result<String, String> {
    text.parse::<std::net::SocketAddr>()
        .map(|a| a.to_string())
        .map_err(|_| {
            format!("`{text}` is not an IP:PORT address (like `0.0.0.0:80` or `127.0.0.1:8080`)")
        })
}

/// Deploy Docker images on this host, keep every deployment in a local history, and roll
/// an environment back to an earlier deployment's image in seconds, without rebuilding.
#[derive(Debug, Parser)]
#[command(name = "temps", version, max_term_width = 100)]
pub struct Cli {
    /// The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]
    #[arg(long, env = "TEMPS_DB", global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// How to print results: a table for people, one JSON document for scripts
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub output: OutputFormat,

    /// Answer yes to confirmations (needed when there is no terminal)
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Print nothing but results and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register and configure projects
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Deploy an image (docker preset) or a directory (static preset)
    ///
    /// The image is resolved to its id (pulled when absent), tagged temps/PROJECT:ID, and
    /// swapped in. With a published port, the new version is first started beside the
    /// serving one (a check container on a free loopback port) and health-checked there;
    /// only then is the serving one stopped and kept, and the new one started and
    /// health-checked on the published port. A version that cannot start or never becomes
    /// healthy fails with the old one never stopped; a later failure starts the previous
    /// version again; either way temps exits 5. While the environment is rolled back, the
    /// deployment is recorded `ready` and does not serve until `temps promote`.
    ///
    /// With --watch (or the project's --watch), the new deployment is watched after the
    /// switch and rolled back automatically to what served before when it goes bad: the
    /// rollback's reason starts with `automatic:`, the deployment becomes failed, the
    /// environment rolled back, and temps exits 5. The lock is not held while watching: a
    /// manual rollback or promote meanwhile ends the watch, and Ctrl-C only stops watching.
    ///
    /// Swarm mode (`--swarm`, remembered): the environment is one service,
    /// temps-PROJECT-ENVIRONMENT, on the swarm whose manager DOCKER_HOST names (else exit
    /// 4). The tag is resolved once to its repository digest in the registry and recorded
    /// as image_id; the service is updated to that digest with the current variables, one
    /// task at a time, stop first, the port published in host mode on every node that
    /// runs a task. temps waits until Swarm reports the update completed and every task
    /// runs (healthy, with a HEALTHCHECK), within the health timeout; a failed task, a
    /// paused update or the timeout puts the previous spec back (by temps, not Swarm) and
    /// exits 5. A node gone mid-update: temps runs as many replicas as the ready nodes
    /// hold, warns, and status shows the shortfall until the next operation.
    Deploy(Box<DeployArgs>),
    /// Show a project's deployment history, newest first
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show one deployment in full
    Show(ShowArgs),
    /// Show what each environment serves, and any drift between the history and Docker
    ///
    /// Per environment: the current deployment, the rolled-back state, the published port
    /// or proxy route, each container's state and health, and drift. In swarm mode: the
    /// service and each task (node, state, health, deployment), with drift when the
    /// service or a task runs another digest than the current deployment's, or fewer
    /// replicas than the environment's.
    Status(StatusArgs),
    /// Run an earlier deployment's image again, without rebuilding
    ///
    /// Validates first (exit 3 or 4, nothing written), asks on a terminal (default No;
    /// `--yes` skips, no terminal and no `--yes` exits 2), records a new deployment, swaps
    /// to the target's image id with the environment's current variables, and leaves the
    /// environment rolled back. A failed health check restores the previous version and
    /// exits 5. Database migrations and external state are not reverted. With `--project`
    /// and no id, a picker of valid targets (newest first, the most recent valid one
    /// preselected) on a terminal, else the most recent valid target. That one skips
    /// deployments whose version a later rollback left and those running the image that
    /// serves now, so the same no-id rollback run twice never goes forward to the version
    /// it fled; when none is left, temps refuses (exit 4) and names them. In proxy mode,
    /// a target whose containers still run as the warm standby, with the current
    /// variables, takes the warm path: one probe per container and the route switch, no
    /// container started; otherwise (or when a probe fails) the cold path. The
    /// confirmation and --dry-run say which and why. With --watch, the rollback is watched
    /// like a deploy, and goes back to the deployment it rolled back from if it goes bad.
    /// In swarm mode the rollback is a
    /// service update to the target's recorded digest, which must still be in the
    /// registry (else exit 4, nothing written); it reaches any deployment in the history.
    Rollback(RollbackArgs),
    /// Make a deployment serve and leave the rolled-back state
    ///
    /// Swaps to the deployment (ready, completed or deployed) exactly as a rollback does,
    /// records it with is_promote, and returns the environment to normal, so new deploys
    /// serve again. Promoting the deployment that serves already only clears the state.
    /// In proxy mode a warm target takes the warm path, as with rollback. With --watch, the
    /// promoted deployment is watched like a deploy.
    Promote(PromoteArgs),
    /// Manage an environment's variables
    #[command(subcommand)]
    Env(EnvCommand),
    /// Remove old deployments' containers, pinned tags and releases
    ///
    /// Per environment, keeps the newest N successful deployments (deployed, completed or
    /// ready) and always the current one; for the others, removes their stopped containers,
    /// their temps/PROJECT:ID tags and their static releases, so Docker can reclaim the
    /// space. The history keeps every row; a pruned deployment can no longer be rolled
    /// back to.
    Prune(PruneArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Run the zero-downtime proxy for every environment in proxy mode (foreground)
    ///
    /// Listens on the proxy address of every environment in proxy mode and forwards each
    /// request to the environment's current upstream, round-robin across its replicas.
    /// Route changes written by deploy, rollback and promote are applied within tens of
    /// milliseconds, without a restart; upgraded (WebSocket) connections stay on the
    /// version they started on. Runs until SIGTERM or SIGINT, then lets the requests in
    /// flight finish. Logs one line per lifecycle event to stderr.
    ///
    /// Addresses of environments deployed with `--tls` serve HTTPS (HTTP/2 and HTTP/1.1
    /// by ALPN), the certificate chosen by SNI; a handshake for a name without a
    /// certificate is refused. Certificates for `--tls acme` are got and renewed here
    /// (TLS-ALPN-01, or HTTP-01 on --http), kept beside the history in `<db>-tls/`.
    ///
    /// Started while another `temps proxy` serves the history, it takes that one's
    /// listening sockets over (no connection lost), and the other one drains and exits;
    /// sockets from systemd socket activation (LISTEN_FDS) are used too.
    ///
    /// HTTP/1.1 requests and answers pass through as they came, bodies untouched; the
    /// hop-by-hop headers stay behind and X-Forwarded-For, -Proto and -Host are set. A
    /// request whose length is ambiguous (Content-Length with Transfer-Encoding, lengths
    /// that disagree, a coding other than chunked) gets 400 and is never forwarded; a
    /// chunked body that breaks its framing is not passed on further; a head over
    /// 64 KB gets 431; CONNECT gets 405, over HTTP/1.1 and h2c alike. A Host that is not
    /// one host[:port] (spaces, `/`, `,`, `@`, two Host headers), a target with userinfo
    /// or a `#`, and a method not in upper case get 400. HTTP/1.0 requests go on as HTTP/1.0. Connections
    /// to the upstreams are kept alive and reused; an idempotent request (GET, HEAD,
    /// OPTIONS, TRACE, PUT, DELETE) that finds one closed is sent again on a new one. A client connection is closed after 30 s idle, 30 s without
    /// a whole request head, or 30 s without a byte of a request body it is sending; a
    /// client that closes while its answer is awaited lets go of the request upstream; a
    /// write that waits 60 s for its receiver ends the exchange. Request headers that
    /// spell a forwarding, framing or hop-by-hop header with `_` for `-` are dropped.
    /// h2c (prior knowledge) is served too, with small flow-control windows (8 KiB) and
    /// at most 100 streams per connection; an h2c connection with no stream open is
    /// closed after the idle timeout, as an idle HTTP/1.1 one.
    Proxy(ProxyArgs),
    /// Run the HTTP API and the dashboard (foreground)
    ///
    /// Serves the routes of the HTTP API under /api and the dashboard at /, with bearer
    /// tokens (`temps token create`) deciding who may read, roll back and promote, deploy,
    /// or administer, and where. Operations run through the same pipeline and environment
    /// locks as the command line, keep running when the client goes away, and are
    /// recovered like the command line's after a crash. Listens on loopback unless told
    /// otherwise; a public address needs TLS (`--tls-cert`, `--tls-key`) or
    /// `--insecure-http` when a TLS-terminating proxy stands in front. SIGTERM or SIGINT
    /// stops accepting connections and waits for the operations in flight to finish.
    Serve(ServeArgs),
    /// Create, list and revoke the API's tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Tell webhooks what happened to environments
    ///
    /// Deploys, rollbacks, promotes, automatic rollbacks and failures, in JSON or Slack's
    /// format. Each event is POSTed to every target that wants it, with `X-Temps-Event`,
    /// `X-Temps-Delivery` and, with a secret, `X-Temps-Signature: sha256=HEX` (HMAC-SHA256
    /// of the body). An operation waits at most 2 s for its notifications and never fails
    /// because of one; a delivery that fails is kept and retried with backoff for an hour
    /// by `temps proxy` or `temps serve`, whichever runs.
    #[command(subcommand)]
    Notify(NotifyCommand),
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Add a webhook
    Add(NotifyAddArgs),
    /// List the webhooks (never their secrets)
    #[command(visible_alias = "ls")]
    List,
    /// Remove a webhook and its deliveries
    Remove(NotifyNameArg),
    /// Send a test event to a webhook now, and say how it answered
    Test(NotifyNameArg),
    /// Show the latest delivery attempts, newest first
    Deliveries(NotifyDeliveriesArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotifyFormat {
    /// The event's JSON document
    Json,
    /// `{"text": "..."}`, for Slack's incoming webhooks and the chats that take its format
    Slack,
}

#[derive(Debug, Args)]
pub struct NotifyAddArgs {
    /// The webhook's name
    pub name: String,
    /// Where events are POSTed (http:// or https://)
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Sign each body with HMAC-SHA256 under this secret (kept in the history, never
    /// printed back)
    #[arg(long, value_name = "S")]
    pub secret: Option<String>,
    /// The events to send, comma-separated: deploy, rollback, promote,
    /// automatic-rollback, canary-aborted, failed [default: all]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub events: Vec<String>,
    /// The body's format
    #[arg(long, value_enum, default_value_t = NotifyFormat::Json)]
    pub format: NotifyFormat,
}

#[derive(Debug, Args)]
pub struct NotifyNameArg {
    /// The webhook's name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NotifyDeliveriesArgs {
    /// How many attempts to show
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen (port 0: one the system chooses); `temps serve: listening on
    /// URL` on stderr says where it listens
    #[arg(long, env = "TEMPS_LISTEN", default_value = "127.0.0.1:7070", value_name = "ADDR", value_parser = parse_socket)]
    pub listen: std::net::SocketAddr,
    /// TLS certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address that is not loopback (a TLS-terminating proxy
    /// stands in front)
    #[arg(long)]
    pub insecure_http: bool,
    /// The dashboard's address as browsers open it (`https://temps.example.com`), when a
    /// proxy in front changes the scheme or host: a cookie request that changes
    /// something must come from this origin [default: the request's own scheme and
    /// host]
    #[arg(long, env = "TEMPS_PUBLIC_URL", value_name = "URL", value_parser = crate::api::parse_public_url)]
    pub public_url: Option<String>,
    /// How long SIGTERM or SIGINT waits for operations in flight before exiting
    #[arg(long, value_name = "DUR", default_value = "10m", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Close a client connection that has no request in progress for this long
    /// (HTTP/1.1: between requests; HTTP/2: no stream open, whatever PINGs it sends)
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Also serve Prometheus metrics (operations, automatic rollbacks, what serves) on
    /// this loopback address, at `/metrics`, without a token (`GET /metrics` on the
    /// API's address asks for an admin token)
    #[arg(long, value_name = "ADDR", value_parser = parse_socket)]
    pub metrics: Option<std::net::SocketAddr>,
}

/// `--expires`: a duration as elsewhere, or days (`90d`, at most ten years).
fn parse_expiry(text: &str) -> Result<Duration, String> {
    match text.trim().strip_suffix('d') {
        Some(days) => match days.parse::<u64>() {
            Ok(days @ 1..=3650) => Ok(Duration::from_secs(days * 86_400)),
            _ => Err(format!(
                "`{text}` is not a number of days from 1 to 3650 (like `90d`)"
            )),
        },
        None => parse_duration(text),
    }
}

/// `--health-timeout` for one operation: a duration longer than zero.
fn parse_health_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err("the health timeout must be longer than 0 (like `1m`)".into()),
        d => Ok(d),
    }
}

/// A deployment id, as `temps list` shows it (one that does not exist, such as `0`, is
/// the command's to say: exit 3).
fn parse_deployment_id(text: &str) -> Result<i64, String> {
    match text.parse::<i64>() {
        Ok(id) => Ok(id),
        Err(_) => Err(format!(
            "`{}` is not a deployment id: ids are numbers, as `temps list PROJECT` shows them",
            crate::text::printable(text)
        )),
    }
}

/// `temps rollback ID`: a name where the id goes points to `--project`.
fn parse_rollback_target(text: &str) -> Result<i64, String> {
    parse_deployment_id(text).map_err(|e| {
        if crate::error::check_name("project", text).is_ok() {
            format!(
                "`{text}` is not a deployment id; to choose among {text}'s deployments: \
                 `temps rollback --project {text}` (`temps list {text}` shows the ids)"
            )
        } else {
            e
        }
    })
}

/// `--listen IP:PORT`.
fn parse_socket(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("`{text}` is not an IP:PORT address (like `127.0.0.1:7070` or `0.0.0.0:443`)")
    })
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; its secret is printed once and only its SHA-256 is kept
    Create(TokenCreateArgs),
    /// List the tokens (never their secrets), with their last use
    #[command(visible_alias = "ls")]
    List,
    /// Revoke a token: it stops working at once
    Revoke(TokenNameArg),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenRole {
    /// Read projects, deployments, status and progress
    Reader,
    /// The on-call: also roll back and promote
    Responder,
    /// Also deploy new images
    Deployer,
    /// Also variables' values, project settings and prune
    Admin,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The token's name (recorded as `token:NAME` in `created_by`)
    pub name: String,
    /// What the token may do
    #[arg(long, value_enum)]
    pub role: TokenRole,
    /// Only this project (anything else answers 404)
    #[arg(long, value_name = "P")]
    pub project: Option<String>,
    /// Only this environment of the project
    #[arg(long, value_name = "E", requires = "project")]
    pub environment: Option<String>,
    /// Stop working after this long (like 90d or 12h) [default: never]
    #[arg(long, value_name = "DUR", value_parser = parse_expiry)]
    pub expires: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct TokenNameArg {
    /// The token's name
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Register a project
    Create(ProjectCreateArgs),
    /// Change a project's settings
    Update(ProjectUpdateArgs),
    /// List projects
    #[command(visible_alias = "ls")]
    List,
    /// Show a project's settings and environments
    Show(ProjectNameArg),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Containers from Docker images
    Docker,
    /// A directory of files behind a `current` symlink
    Static,
}

#[derive(Debug, Args)]
pub struct ProjectNameArg {
    /// Project name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ProjectCreateArgs {
    /// Project name: lowercase letters, digits and `-`
    pub name: String,
    /// What a deployment is
    #[arg(long, value_enum, default_value_t = Preset::Docker)]
    pub preset: Preset,
    #[command(flatten)]
    pub settings: ProjectSettings,
}

#[derive(Debug, Args)]
pub struct ProjectUpdateArgs {
    /// Project name
    pub name: String,
    #[command(flatten)]
    pub settings: ProjectSettings,
}

#[derive(Debug, Args)]
pub struct ProjectSettings {
    /// The port the app listens on inside its container [default: the image's first EXPOSE]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub container_port: Option<u16>,
    /// Health check: HTTP GET this path and expect 2xx or 3xx (`""` to unset)
    #[arg(long, value_name = "PATH")]
    pub health_path: Option<String>,
    /// How long a new version may take to become healthy [default: 30s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub health_timeout: Option<Duration>,
    /// Time between health probes [default: 50ms]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub health_interval: Option<Duration>,
    /// How long a stopping container gets before it is killed [default: 10s]; temps says
    /// when a container had to be killed (it ignored SIGTERM)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub stop_timeout: Option<Duration>,
    /// A folder of hooks: executables named pre-deploy, post-deploy, pre-rollback,
    /// post-rollback, pre-promote, post-promote (`""` to unset)
    #[arg(long, value_name = "DIR")]
    pub hooks: Option<String>,
    /// How long a hook may run before it is killed and counts as failed [default: 30s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub hook_timeout: Option<Duration>,
    /// The watch window deploy, rollback and promote use when not given --watch
    /// [default: 0s, no watch]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub watch: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct EnvironmentArg {
    /// Environment name
    #[arg(short, long, default_value = "production", value_name = "E")]
    pub environment: String,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Project name
    pub project: String,
    /// Image to deploy (docker preset); pulled when not on the host
    #[arg(
        long,
        value_name = "REF",
        conflicts_with = "dir",
        required_unless_present = "dir"
    )]
    pub image: Option<String>,
    /// Directory to release (static preset)
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub environment: EnvironmentArg,
    /// Publish the container port on this host port; remembered by the environment, even
    /// when its first deploy fails. In swarm mode: PORT only, published in host mode on
    /// every node that runs a task
    #[arg(long, value_name = "[IP:]HOST_PORT", conflicts_with = "proxy", value_parser = parse_publish)]
    pub publish: Option<Publish>,
    /// Serve through `temps proxy` on this public address, switching with no downtime
    /// (start first, switch, drain, stop); remembered by the environment
    #[arg(long, value_name = "IP:PORT", value_parser = parse_listen)]
    pub proxy: Option<String>,
    /// Run the environment as one Docker Swarm service, `temps-PROJECT-ENVIRONMENT`, on
    /// the swarm whose manager DOCKER_HOST names (else exit 4); remembered. The tag is
    /// resolved once, in its registry, to its repository digest (repo@sha256:...), which
    /// every node pulls and every later rollback or promote uses
    #[arg(long, conflicts_with = "proxy")]
    pub swarm: bool,
    /// Proxy mode: how many containers to run, round-robin; swarm mode: how many tasks
    /// [default: 1; remembered]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub replicas: Option<u32>,
    /// Proxy mode: how long requests in flight may take to finish on the old version
    /// before it is stopped [default: 30s; remembered]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub drain: Option<Duration>,
    /// Proxy mode: how long the app's answer may take to begin once the request was sent
    /// to it whole; after that the proxy answers 504 Gateway Timeout and closes the
    /// connection to the app [default: 60s; 0s for no limit; remembered]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub response_timeout: Option<Duration>,
    /// Proxy mode: a host this environment answers on its address (repeat for more;
    /// `*.example.com` for every name one label under it). Environments of any project
    /// may share one `--proxy` address when each names its domains; a request for no
    /// known domain gets 404, unless one environment there answers every other host (the
    /// address's catch-all: `--domain '*'`, or none given while alone on the address).
    /// Joining an address others share by domain without naming domains or '*', or
    /// claiming a domain another environment there holds, is refused (exit 4) [remembered]
    #[arg(long = "domain", value_name = "HOST")]
    pub domains: Vec<String>,
    /// Proxy mode: after a switch, how long the replaced deployment's containers keep
    /// running with no traffic, so that a rollback or promote to it only switches the
    /// route (the warm path); 0s stops them once drained [default: 30m; remembered]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub standby: Option<Duration>,
    /// How long the new version may take to become healthy, for this deploy only (an app
    /// that is slow to start); the project's --health-timeout stays as it is
    #[arg(long, value_name = "DUR", value_parser = parse_health_timeout)]
    pub health_timeout: Option<Duration>,
    /// Proxy mode: serve HTTPS on the `--proxy` address, with certificates the proxy
    /// gets and renews itself (`acme`, Let's Encrypt by default; see `temps proxy`), or
    /// plain HTTP again (`off`). Needs `--domain` (exact names only with `acme`); every
    /// environment on one address is HTTPS or none is (else exit 4) [default: off;
    /// remembered]
    #[arg(long, value_enum, value_name = "MODE", conflicts_with = "tls_cert")]
    pub tls: Option<TlsMode>,
    /// Proxy mode: serve HTTPS with this certificate chain (PEM, leaf first), which
    /// must be valid now and name every `--domain` (wildcards allowed); needs --tls-key.
    /// Checked at deploy (exit 2 or 4, nothing changed) and kept in the history
    /// [remembered]
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM); it must be the certificate's
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Proxy mode, with HTTPS: add `Strict-Transport-Security: max-age=SECONDS` to the app's
    /// answers (when they have none); 0s for none [default: none; remembered]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub hsts: Option<Duration>,
    /// The database schema this release migrates to: a number (42, 20240611093000) or
    /// dotted numbers (2.10); else the image's `dev.temps.schema` label. A rollback or
    /// promote to a deployment below the database's floor is refused (exit 4)
    #[arg(long, value_name = "VERSION", value_parser = parse_schema_version)]
    pub schema: Option<SchemaVersion>,
    /// The oldest schema whose code still runs against this release's schema (an
    /// expand migration keeps old code working); else the image's
    /// `dev.temps.schema.compat` label [default: --schema: not backward compatible]
    #[arg(long, value_name = "VERSION", value_parser = parse_schema_version)]
    pub schema_compat: Option<SchemaVersion>,
    /// Why this deployment is made, for the history
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub lock: WaitLockArg,
    #[command(flatten)]
    pub watch: WatchArg,
}

/// `--tls`: certificates from ACME, or no TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// Certificates from an ACME CA, got and renewed by `temps proxy`
    Acme,
    /// Plain HTTP
    Off,
}

#[derive(Debug, Args)]
pub struct WatchArg {
    /// After a successful switch, watch the new deployment for this long and roll back
    /// by itself (exit 5) when its container exits or restarts, its health check fails 3
    /// times in a row (probed every second), or, in proxy mode, 5xx answers make at least
    /// 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only
    /// stops watching [default: the project's --watch]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub watch: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct WaitLockArg {
    /// When another operation holds the environment, wait up to this long instead of failing
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub wait_lock: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Project name
    pub project: String,
    /// Only this environment
    #[arg(short, long, value_name = "E")]
    pub environment: Option<String>,
    /// How many deployments, newest first (0 for all)
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: u64,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Deployment id
    #[arg(value_parser = parse_deployment_id)]
    pub deployment: i64,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// How often to look for route changes in the history (a switch also wakes the proxy)
    #[arg(long, value_name = "DUR", default_value = "20ms", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// How long SIGTERM or SIGINT waits for the requests in flight before exiting
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Close a client connection that has no request in progress for this long
    /// (HTTP/1.1: between requests; h2c: no stream open, whatever PINGs it sends)
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Hold at most this many client connections at once; one more is closed as soon as
    /// it is accepted, until some end
    #[arg(long, value_name = "N", default_value_t = 16384,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Also listen on this plain address (usually `0.0.0.0:80`): answer ACME's HTTP-01
    /// challenges, and send every other request for an HTTPS domain to `https://` with
    /// 308; other hosts are served as on any address in proxy mode
    #[arg(long, value_name = "IP:PORT", value_parser = parse_socket)]
    pub http: Option<std::net::SocketAddr>,

    /// The ACME directory that certificates for `--tls acme` come from (Let's Encrypt's
    /// staging one, a private CA)
    #[arg(long, value_name = "URL", default_value = crate::proxy::tls::acme::LETS_ENCRYPT)]
    pub acme_directory: String,

    /// The contact address of the ACME account (the CA's expiry notices go there)
    #[arg(long, value_name = "ADDR")]
    pub acme_email: Option<String>,

    /// Trust this root (PEM) for the ACME directory's own HTTPS certificate, for a CA
    /// whose certificate is not in the system's roots
    #[arg(long, value_name = "PEM")]
    pub acme_ca_root: Option<PathBuf>,

    /// Serve Prometheus metrics (the text format) on this address, at `/metrics`:
    /// requests, durations and upstream errors per deployment, open connections, route
    /// switches, certificate expiries. No authentication: keep it on loopback or a
    /// network only the scraper reaches
    #[arg(long, value_name = "ADDR", value_parser = parse_socket)]
    pub metrics: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Project name [default: every project]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The deployment whose image to run again [default: pick one]
    #[arg(value_parser = parse_rollback_target)]
    pub deployment: Option<i64>,
    /// Project, when no deployment id is given
    #[arg(short, long, value_name = "P")]
    pub project: Option<String>,
    /// Environment, when no deployment id is given
    #[arg(short, long, value_name = "E")]
    pub environment: Option<String>,
    /// Validate and print the plan; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Why, for the history
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Override the project's health timeout for this rollback
    #[arg(long, value_name = "DUR", value_parser = parse_health_timeout)]
    pub health_timeout: Option<Duration>,
    /// Go back below the database's schema floor: you ran the down migrations
    /// (recorded with your name in `schema_accepted_by`)
    #[arg(long)]
    pub accept_schema: bool,
    #[command(flatten)]
    pub lock: WaitLockArg,
    #[command(flatten)]
    pub watch: WatchArg,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The deployment to make serve
    #[arg(value_parser = parse_deployment_id)]
    pub deployment: i64,
    /// Why, for the history
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Override the project's health timeout for this promote
    #[arg(long, value_name = "DUR", value_parser = parse_health_timeout)]
    pub health_timeout: Option<Duration>,
    /// Go back below the database's schema floor: you ran the down migrations
    /// (recorded with your name in `schema_accepted_by`)
    #[arg(long)]
    pub accept_schema: bool,
    #[command(flatten)]
    pub lock: WaitLockArg,
    #[command(flatten)]
    pub watch: WatchArg,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Project name
    pub project: String,
    /// How many successful deployments to keep per environment (the current one is always kept)
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub keep: usize,
    /// List what would be removed; remove nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub lock: WaitLockArg,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Set variables (applied to containers created from now on)
    Set(EnvSetArgs),
    /// Remove variables
    Unset(EnvUnsetArgs),
    /// List variables, values masked
    #[command(visible_alias = "ls")]
    List(EnvListArgs),
}

#[derive(Debug, Args)]
pub struct EnvSetArgs {
    /// Project name
    pub project: String,
    /// KEY=VALUE pairs
    #[arg(required = true, value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
    #[command(flatten)]
    pub environment: EnvironmentArg,
    #[command(flatten)]
    pub lock: WaitLockArg,
}

#[derive(Debug, Args)]
pub struct EnvUnsetArgs {
    /// Project name
    pub project: String,
    /// Variable names
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
    #[command(flatten)]
    pub environment: EnvironmentArg,
    #[command(flatten)]
    pub lock: WaitLockArg,
}

#[derive(Debug, Args)]
pub struct EnvListArgs {
    /// Project name
    pub project: String,
    /// Print values instead of masking them
    #[arg(long)]
    pub reveal: bool,
    #[command(flatten)]
    pub environment: EnvironmentArg,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
