//! The swarm test lab: three Docker engines on this machine joined into one swarm, and a
//! registry every node pulls from, built by `tests/swarm-up.sh`, which describes it in
//! `/run/temps-swarm/env` (or the file `TEMPS_SWARM_ENV` names).
//!
//! Tests that need it call `require_swarm!()`, which gives the lab (`&SwarmLab`): without
//! one they skip with a visible message, except on CI (`CI` set), where they fail.
//!
//! Every swarm test shares the one lab: a test that only adds services of its own holds
//! `lab.shared()`, a test that takes a node away or otherwise changes the swarm for
//! everyone holds `lab.exclusive()` (a file lock, so two test runs on one machine wait
//! for each other too).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use super::ports::PortPool;
use super::{Run, TestEnv};

/// One node of the lab.
#[derive(Debug, Clone)]
pub struct SwarmNode {
    /// `node1`, `node2`, `node3`: its hostname, as `docker node ls` and `service ps` show it.
    pub name: String,
    /// Its engine, as a `DOCKER_HOST` value.
    pub host: String,
    /// Its address on the lab network: host-mode published ports answer there.
    pub addr: String,
    /// Its swarm node ID when the lab was built (a node that left and joined has another).
    pub id: String,
}

/// The lab as `tests/swarm-up.sh` described it.
#[derive(Debug, Clone)]
pub struct SwarmLab {
    /// The manager's engine (node1), as a `DOCKER_HOST` value: temps talks to this one.
    pub manager: String,
    /// The registry as every node reaches it (the root namespace too): `ADDR:PORT`.
    pub registry: String,
    /// Every node, node1 (the manager) first.
    pub nodes: Vec<SwarmNode>,
    /// The seeded images by tag, by key: `WEB_V1` -> `REGISTRY/temps-test/web:v1`.
    pub images: BTreeMap<String, String>,
    /// The same images by digest: `WEB_V1` -> `REGISTRY/temps-test/web@sha256:…`.
    pub digests: BTreeMap<String, String>,
    /// The lab's slot (tests/swarm-lib.sh): the scripts are told it.
    pub slot: String,
    /// Where the env file is: the lock file lives beside it.
    pub env_file: PathBuf,
}

/// The env file the lab is described in.
pub fn swarm_env_file() -> PathBuf {
    std::env::var_os("TEMPS_SWARM_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/temps-swarm/env"))
}

/// The lab, when it is up and its manager answers. Without it: `None` (skip) locally, a
/// panic on CI.
pub fn swarm_lab() -> Option<&'static SwarmLab> {
    static LAB: OnceLock<Result<SwarmLab, String>> = OnceLock::new();
    let lab = LAB.get_or_init(|| {
        let lab = SwarmLab::load(&swarm_env_file())?;
        let answer = lab.docker_on(
            &lab.manager,
            &["info", "--format", "{{.Swarm.ControlAvailable}}"],
        );
        if answer.status != 0 || answer.stdout.trim() != "true" {
            return Err(format!(
                "the manager {} does not answer as a swarm manager: {}{}",
                lab.manager,
                answer.stdout.trim(),
                answer.stderr.trim()
            ));
        }
        Ok(lab)
    });
    match lab {
        Ok(lab) => Some(lab),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI needs the swarm lab, and it is not usable: {why}; run `bash tests/swarm-up.sh`"
            )
        }
        Err(why) => {
            eprintln!("SKIPPED: no swarm lab ({why}); run `bash tests/swarm-up.sh` to test on one");
            None
        }
    }
}

/// The swarm lab for a test that needs one (`&'static SwarmLab`), or skip it (locally) or
/// fail it (on CI).
#[macro_export]
macro_rules! require_swarm {
    () => {
        match $crate::common::swarm_lab() {
            Some(lab) => lab,
            None => return,
        }
    };
}

/// One task of a service, as `docker service ps` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTask {
    /// The node's hostname (`node2`), empty while the task is not placed.
    pub node: String,
    /// `running`, `pending`, `failed`, … (the first word of CURRENT STATE, lower case).
    pub state: String,
    /// The image of the task's spec, as the service has it (a tag and/or a digest).
    pub image: String,
    /// The task's error, if any.
    pub error: String,
}

/// Holds the lab shared or exclusive until dropped (see the module's comment).
pub struct SwarmLock(File);

impl Drop for SwarmLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

static SERVICES: AtomicU32 = AtomicU32::new(0);

impl SwarmLab {
    /// Read the env file `tests/swarm-up.sh` wrote.
    pub fn load(path: &Path) -> Result<SwarmLab, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let vars: BTreeMap<String, String> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            .collect();
        let get = |key: &str| {
            vars.get(key)
                .cloned()
                .ok_or_else(|| format!("{} has no {key}", path.display()))
        };
        let mut nodes = Vec::new();
        for (i, name) in get("TEMPS_SWARM_NODES")?.split_whitespace().enumerate() {
            let n = i + 1;
            nodes.push(SwarmNode {
                name: name.to_string(),
                host: get(&format!("TEMPS_SWARM_NODE{n}_HOST"))?,
                addr: get(&format!("TEMPS_SWARM_NODE{n}_ADDR"))?,
                id: get(&format!("TEMPS_SWARM_NODE{n}_ID"))?,
            });
        }
        let (mut images, mut digests) = (BTreeMap::new(), BTreeMap::new());
        for key in get("TEMPS_SWARM_IMAGES")?.split_whitespace() {
            images.insert(key.to_string(), get(&format!("TEMPS_SWARM_IMAGE_{key}"))?);
            digests.insert(key.to_string(), get(&format!("TEMPS_SWARM_DIGEST_{key}"))?);
        }
        Ok(SwarmLab {
            manager: get("TEMPS_SWARM_MANAGER")?,
            registry: get("TEMPS_SWARM_REGISTRY")?,
            nodes,
            images,
            digests,
            slot: get("TEMPS_SWARM_SLOT")?,
            env_file: path.to_path_buf(),
        })
    }

    /// A seeded image by tag: `lab.image("WEB_V1")` is `REGISTRY/temps-test/web:v1`.
    #[track_caller]
    pub fn image(&self, key: &str) -> &str {
        self.images
            .get(key)
            .unwrap_or_else(|| panic!("the lab seeded no image {key}: {:?}", self.images.keys()))
    }

    /// A seeded image by digest: `REGISTRY/temps-test/web@sha256:…`.
    #[track_caller]
    pub fn digest(&self, key: &str) -> &str {
        self.digests
            .get(key)
            .unwrap_or_else(|| panic!("the lab seeded no image {key}: {:?}", self.digests.keys()))
    }

    /// A node by name (`node2`).
    #[track_caller]
    pub fn node(&self, name: &str) -> &SwarmNode {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("the lab has no node {name}"))
    }

    /// The workers: every node but the manager.
    pub fn workers(&self) -> impl Iterator<Item = &SwarmNode> {
        self.nodes.iter().filter(move |n| n.host != self.manager)
    }

    /// Hold the lab with other tests that only add services of their own.
    pub fn shared(&self) -> SwarmLock {
        let file = self.lock_file();
        file.lock_shared().expect("a shared lock on the swarm lab");
        SwarmLock(file)
    }

    /// Hold the lab alone: for a test that takes nodes away or changes the swarm.
    pub fn exclusive(&self) -> SwarmLock {
        let file = self.lock_file();
        file.lock().expect("an exclusive lock on the swarm lab");
        SwarmLock(file)
    }

    fn lock_file(&self) -> File {
        let path = self.env_file.with_file_name("lock");
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
    }

    /// `docker ARGS` against the engine `host` (a `DOCKER_HOST` value), bounded to 60 s.
    pub fn docker_on(&self, host: &str, args: &[&str]) -> Run {
        let out = Command::new("timeout")
            .arg("60")
            .arg("docker")
            .args(args)
            .env("DOCKER_HOST", host)
            .output()
            .expect("the docker client (and coreutils' timeout)");
        Run::from(out)
    }

    /// `docker ARGS` against a node (`node2`).
    pub fn docker(&self, node: &str, args: &[&str]) -> Run {
        self.docker_on(&self.node(node).host, args)
    }

    /// `docker ARGS` against the manager.
    pub fn manager_docker(&self, args: &[&str]) -> Run {
        self.docker_on(&self.manager, args)
    }

    /// A service name no other test (or test run) uses: `lab-HINT-PID-N`.
    pub fn service_name(&self, hint: &str) -> String {
        let n = SERVICES.fetch_add(1, Ordering::SeqCst);
        format!("lab-{hint}-{}-{n}", std::process::id())
    }

    /// A port to publish in host mode on the lab's nodes that no other test publishes,
    /// in this run or in any other on the lab (see `ports.rs`: each port is handed out
    /// once, under a lock beside the lab's env file), and that no node answers on now.
    /// From 20000 to 29999: clear of the kernel's ephemeral ports and of temps' own
    /// `--swarm-ports` (30000-30999).
    pub fn port(&self) -> u16 {
        static PORTS: OnceLock<PortPool> = OnceLock::new();
        let pool = PORTS.get_or_init(|| {
            PortPool::new(&self.env_file.with_file_name("ports.lock"), 20000, 29999)
        });
        pool.take(|port| {
            self.nodes.iter().all(|node| {
                let Ok(addr) = format!("{}:{port}", node.addr).parse::<SocketAddr>() else {
                    return false;
                };
                TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
            })
        })
    }

    /// The tasks of a service that should be running (desired state running).
    pub fn tasks(&self, service: &str) -> Vec<SwarmTask> {
        let run = self.manager_docker(&[
            "service",
            "ps",
            "--no-trunc",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}}\t{{.CurrentState}}\t{{.Image}}\t{{.Error}}",
            service,
        ]);
        if run.status != 0 {
            return Vec::new();
        }
        run.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut fields = line.split('\t');
                let mut next = || fields.next().unwrap_or_default().trim().to_string();
                let node = next();
                let state = next()
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_lowercase();
                SwarmTask {
                    node,
                    state,
                    image: next(),
                    error: next(),
                }
            })
            .collect()
    }

    /// The health of the service's running containers, node by node: `(node, health)`,
    /// health being `healthy`, `unhealthy`, `starting`, or empty without a HEALTHCHECK.
    pub fn health(&self, service: &str) -> Vec<(String, String)> {
        let filter = format!("label=com.docker.swarm.service.name={service}");
        let mut found = Vec::new();
        for node in &self.nodes {
            let ids = self.docker(&node.name, &["ps", "-q", "--filter", &filter]);
            for id in ids.stdout.split_whitespace() {
                let health = self.docker(
                    &node.name,
                    &[
                        "inspect",
                        "--format",
                        "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                        id,
                    ],
                );
                found.push((node.name.clone(), health.stdout.trim().to_string()));
            }
        }
        found
    }

    /// The image in the service's spec, as Swarm has it (`REPO:TAG@sha256:…`).
    pub fn service_image(&self, service: &str) -> String {
        self.manager_docker(&[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            service,
        ])
        .code(0)
        .stdout
        .trim()
        .to_string()
    }

    /// Wait (at most `timeout`) until the service has converged: its last update (if any)
    /// completed, and `replicas` tasks running, every one with the spec's image. Returns
    /// those tasks; panics with the service's tasks when it does not converge in time, or
    /// at once when Swarm paused the update.
    #[track_caller]
    pub fn wait_converged(
        &self,
        service: &str,
        replicas: usize,
        timeout: Duration,
    ) -> Vec<SwarmTask> {
        let started = Instant::now();
        loop {
            let status = self
                .manager_docker(&[
                    "service",
                    "inspect",
                    "--format",
                    "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}\t{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                    service,
                ])
                .code(0)
                .stdout;
            let (update, image) = status.trim_end().split_once('\t').unwrap_or(("", ""));
            let tasks = self.tasks(service);
            let done = matches!(update, "" | "completed" | "rollback_completed")
                && tasks.len() == replicas
                && tasks
                    .iter()
                    .all(|t| t.state == "running" && t.image == image);
            if done {
                return tasks;
            }
            // A paused update waits for a person: no use waiting for it.
            if started.elapsed() > timeout || update.ends_with("paused") {
                let all = self.manager_docker(&["service", "ps", "--no-trunc", service]);
                panic!(
                    "service {service} did not converge within {timeout:?} (update: {update:?}, \
                     image {image}, {replicas} replicas wanted)\n{}{}",
                    all.stdout, all.stderr
                );
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// Remove a service (no error when it is gone already).
    pub fn remove_service(&self, service: &str) {
        let _ = self.manager_docker(&["service", "rm", service]);
    }

    /// Run `tests/swarm-node.sh ACTION NODE [MORE…]` (stop, kill, start, cut, mend, pause,
    /// resume, leave, join, wait): see the script. Panics when it fails.
    #[track_caller]
    pub fn node_action(&self, action: &str, node: &str, more: &[&str]) {
        let mut args = vec![action, node];
        args.extend_from_slice(more);
        self.script("swarm-node.sh", &args).code(0);
    }

    /// Take a node away: its dockerd stops (its containers with it); the manager lists it
    /// Down after its missed heartbeats (about 10 s).
    pub fn stop_node(&self, node: &str) {
        self.node_action("stop", node, &[]);
    }

    /// Start a stopped node again and wait until the manager sees it Ready.
    pub fn start_node(&self, node: &str) {
        self.node_action("start", node, &[]);
    }

    /// Take a node away (hold `exclusive()` first): it comes back when the returned guard
    /// drops or with `come_back()`. The manager lists it Down after its missed heartbeats
    /// (about 10 to 15 s; `wait_node(node, "down", …)`), except after `Away::Left`, where
    /// the node knows at once and the manager after the same delay.
    #[track_caller]
    pub fn away(&self, node: &str, how: Away) -> NodeAway<'_> {
        self.node_action(how.actions().0, node, &[]);
        NodeAway {
            lab: self,
            node: node.to_string(),
            how,
            back: false,
        }
    }

    /// Cut a node's link (it and its containers keep running, nothing reaches them); the
    /// manager lists it Down after its missed heartbeats.
    pub fn cut_node(&self, node: &str) {
        self.node_action("cut", node, &[]);
    }

    /// Bring a cut link up again and wait until the manager sees the node Ready.
    pub fn mend_node(&self, node: &str) {
        self.node_action("mend", node, &[]);
    }

    /// Wait (at most `seconds`) until the manager reports the node `ready`, `down`, …
    pub fn wait_node(&self, node: &str, state: &str, seconds: u32) {
        self.node_action("wait", node, &[state, &seconds.to_string()]);
    }

    /// Copy an image of the default engine (`temps-test/web:v2`) into the registry as
    /// `REPO:TAG`; returns the reference by digest, `REGISTRY/REPO@sha256:…`. Use a
    /// repository of the test's own for anything it deletes.
    #[track_caller]
    pub fn push(&self, image: &str, repo_tag: &str) -> String {
        let run = self
            .script("swarm-registry.sh", &["push", image, repo_tag])
            .code(0);
        run.stdout.trim().to_string()
    }

    /// Build a new image (a digest of its own) from a seeded one (`temps-test/web:v1`)
    /// whose `/` says `says`, and push it as `REPO:TAG`; returns its reference by digest.
    /// For a history of many versions: `lab.build("lab/web-1234:v3", "v3", WEB_V1)`.
    #[track_caller]
    pub fn build(&self, repo_tag: &str, says: &str, base: &str) -> String {
        let run = self
            .script("swarm-registry.sh", &["build", repo_tag, says, base])
            .code(0);
        run.stdout.trim().to_string()
    }

    /// [`SwarmLab::build`] with `KEY=VALUE` in the image's environment (a behaviour of
    /// its own, where the environment's variables would reach every version).
    #[track_caller]
    pub fn build_with(&self, repo_tag: &str, says: &str, base: &str, setting: &str) -> String {
        let run = self
            .script(
                "swarm-registry.sh",
                &["build", repo_tag, says, base, setting],
            )
            .code(0);
        run.stdout.trim().to_string()
    }

    /// `temps ARGS` of the test's environment, against the manager (`DOCKER_HOST`).
    pub fn temps(&self, env: &TestEnv, args: &[&str]) -> Run {
        env.run_with(&[("DOCKER_HOST", &self.manager)], args)
    }

    /// Remove the services temps made for a project (label `dev.temps.project`).
    pub fn remove_project_services(&self, project: &str) {
        let filter = format!("label=dev.temps.project={project}");
        let listed = self.manager_docker(&["service", "ls", "-q", "--filter", &filter]);
        let ids: Vec<&str> = listed.stdout.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["service", "rm"];
            args.extend(ids);
            let _ = self.manager_docker(&args);
        }
    }

    /// Remove the project's services when the returned guard drops (after the test,
    /// passed or not).
    pub fn clean_up_project(&self, project: &str) -> ProjectServices<'_> {
        ProjectServices {
            lab: self,
            project: project.to_string(),
        }
    }

    /// Whether the registry has the manifest `reference` (a tag or `sha256:…`) in `repo`.
    pub fn has_manifest(&self, repo: &str, reference: &str) -> bool {
        let run = self.script("swarm-registry.sh", &["has", repo, reference]);
        match run.status {
            0 => true,
            1 if run.stderr.is_empty() => false,
            _ => panic!("asking the registry for {repo} {reference}: {}", run.stderr),
        }
    }

    /// Delete the manifest `digest` (`sha256:…`) from `repo`: a pull of it fails from then on.
    #[track_caller]
    pub fn delete_digest(&self, repo: &str, digest: &str) {
        self.script("swarm-registry.sh", &["delete", repo, digest])
            .code(0);
    }

    /// What the manager's engine answers to `GET /distribution/REFERENCE/json` (the
    /// registry's view of an image, as a client of the engine API asks it): the HTTP
    /// status and the body. 200 with the descriptor's digest while the registry has it,
    /// 404 `manifest unknown` once it is deleted.
    pub fn distribution(&self, reference: &str) -> (u16, String) {
        let socket = self.manager.trim_start_matches("unix://");
        let out = Command::new("curl")
            .args([
                "-s",
                "-m",
                "30",
                "-w",
                "\\n%{http_code}",
                "--unix-socket",
                socket,
            ])
            .arg(format!("http://engine/distribution/{reference}/json"))
            .output()
            .expect("curl (bash tests/tools-up.sh)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// One of the lab's scripts (tests/swarm-*.sh) on this lab.
    pub fn script(&self, name: &str, args: &[&str]) -> Run {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(name);
        let out = Command::new("bash")
            .arg(path)
            .args(args)
            .env("TEMPS_SWARM_SLOT", &self.slot)
            .output()
            .expect("bash");
        Run::from(out)
    }

    /// The body of `GET path` on `addr:port` (a node's address), probed from this machine
    /// (not from inside a container), or `None` when nothing answers with 200.
    pub fn get(&self, addr: &str, port: u16, path: &str) -> Option<String> {
        let target: SocketAddr = format!("{addr}:{port}").parse().ok()?;
        let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let (head, body) = answer.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?;
        (status == "200").then(|| body.to_string())
    }

    /// Wait (at most `timeout`) until `GET /` on every node's address, port `port`, says
    /// `expected` (trimmed). Panics naming the nodes that did not.
    #[track_caller]
    pub fn wait_every_node_says(&self, port: u16, expected: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            let answers: Vec<(String, Option<String>)> = self
                .nodes
                .iter()
                .map(|n| {
                    let said = self.get(&n.addr, port, "/").map(|b| b.trim().to_string());
                    (n.name.clone(), said)
                })
                .collect();
            if answers
                .iter()
                .all(|(_, said)| said.as_deref() == Some(expected))
            {
                return;
            }
            if started.elapsed() > timeout {
                panic!("not every node says {expected:?} on port {port} within {timeout:?}: {answers:?}");
            }
            thread::sleep(Duration::from_millis(250));
        }
    }
}

/// How a node goes away (`SwarmLab::away`), each with its way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Away {
    /// Its dockerd stops (SIGTERM), its containers with it; back: started again.
    Stopped,
    /// Every process of the node is killed at once (a machine losing power); back: started.
    Killed,
    /// Its link is down, it and its containers keep running; back: the link is up again.
    Cut,
    /// Its dockerd and containerd are frozen (SIGSTOP); back: SIGCONT.
    Paused,
    /// It left the swarm (`swarm leave --force`); back: it joins again, with a new node ID.
    Left,
}

impl Away {
    fn actions(self) -> (&'static str, &'static str) {
        match self {
            Away::Stopped => ("stop", "start"),
            Away::Killed => ("kill", "start"),
            Away::Cut => ("cut", "mend"),
            Away::Paused => ("pause", "resume"),
            Away::Left => ("leave", "join"),
        }
    }
}

/// A node taken away; it comes back (and the manager sees it Ready) with `come_back`, or
/// when the guard drops, so that a failing test leaves the lab whole.
pub struct NodeAway<'a> {
    lab: &'a SwarmLab,
    node: String,
    how: Away,
    back: bool,
}

impl NodeAway<'_> {
    /// Bring the node back and wait (bounded) until the manager sees it Ready.
    #[track_caller]
    pub fn come_back(mut self) {
        self.back = true;
        self.lab.node_action(self.how.actions().1, &self.node, &[]);
    }
}

impl Drop for NodeAway<'_> {
    fn drop(&mut self) {
        if !self.back {
            let run = self
                .lab
                .script("swarm-node.sh", &[self.how.actions().1, &self.node]);
            if run.status != 0 {
                eprintln!(
                    "the swarm lab's {} did not come back: {}",
                    self.node, run.stderr
                );
            }
        }
    }
}

/// Removes a project's services when dropped (`SwarmLab::clean_up_project`).
pub struct ProjectServices<'a> {
    lab: &'a SwarmLab,
    project: String,
}

impl Drop for ProjectServices<'_> {
    fn drop(&mut self) {
        self.lab.remove_project_services(&self.project);
    }
}

/// A service of the test's own, removed when dropped.
pub struct SwarmService<'a> {
    pub lab: &'a SwarmLab,
    pub name: String,
}

impl<'a> SwarmService<'a> {
    /// `docker service create --detach --name NAME ARGS…` on the manager.
    #[track_caller]
    pub fn create(lab: &'a SwarmLab, hint: &str, args: &[&str]) -> SwarmService<'a> {
        let name = lab.service_name(hint);
        let mut full = vec!["service", "create", "--detach", "--name", &name];
        full.extend_from_slice(args);
        lab.manager_docker(&full).code(0);
        SwarmService { lab, name }
    }

    /// A service of `image` with one task on each of the lab's 3 nodes, and `extra`
    /// options before the image.
    #[track_caller]
    pub fn one_per_node(
        lab: &'a SwarmLab,
        hint: &str,
        extra: &[&str],
        image: &str,
    ) -> SwarmService<'a> {
        let mut args = vec!["--replicas", "3", "--replicas-max-per-node", "1"];
        args.extend_from_slice(extra);
        args.push(image);
        SwarmService::create(lab, hint, &args)
    }
}

impl Drop for SwarmService<'_> {
    fn drop(&mut self) {
        self.lab.remove_service(&self.name);
    }
}
