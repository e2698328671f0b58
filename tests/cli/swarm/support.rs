//! What the swarm-mode tests share: temps pointed at the lab's manager, a project whose
//! service is removed when the test ends, and waits bounded by the lab's pace.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// The longest an update of three tasks (one after the other, each watched for Swarm's
/// five-second monitor window) is given, pulls included.
pub const CONVERGE: &str = "90s";
/// The longest every node is given to answer with the new version once temps returned.
pub const ANSWER: Duration = Duration::from_secs(30);

/// One test's temps, its project, and the lab; the project's services go with it.
pub struct SwarmProject<'a> {
    pub lab: &'a SwarmLab,
    pub env: TestEnv,
    pub name: String,
    environments: std::cell::RefCell<Vec<String>>,
}

impl<'a> SwarmProject<'a> {
    /// A docker-preset project (the image's port and health check), health timeout
    /// `CONVERGE`.
    pub fn new(lab: &'a SwarmLab, hint: &str) -> SwarmProject<'a> {
        let env = TestEnv::new();
        let name = env.project_name(hint);
        let project = SwarmProject {
            lab,
            env,
            name,
            environments: std::cell::RefCell::new(vec!["production".into()]),
        };
        project.ok(&[
            "project",
            "create",
            &project.name,
            "--health-timeout",
            CONVERGE,
        ]);
        project
    }

    /// `temps ARGS` against the lab's manager.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(
            self.env
                .cmd()
                .env("DOCKER_HOST", &self.lab.manager)
                .args(args)
                .output()
                .expect("run temps"),
        )
    }

    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Run {
        self.run(args).code(0)
    }

    /// `temps -o json ARGS`, which must succeed.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--output", "json"];
        full.extend_from_slice(args);
        self.ok(&full).json()
    }

    /// `temps -o json deploy PROJECT --image IMAGE EXTRA…`, which must succeed.
    #[track_caller]
    pub fn deploy(&self, image: &str, extra: &[&str]) -> Value {
        let mut args = vec!["deploy", &self.name, "--image", image];
        args.extend_from_slice(extra);
        if let Some(at) = extra.iter().position(|a| *a == "--environment") {
            self.environments
                .borrow_mut()
                .push(extra[at + 1].to_string());
        }
        self.json(&args)
    }

    /// The environment's service: `temps-<project>-<environment>`.
    pub fn service(&self, environment: &str) -> String {
        format!("temps-{}-{environment}", self.name)
    }

    /// `temps status PROJECT -o json`: the environment's entry.
    #[track_caller]
    pub fn status(&self, environment: &str) -> Value {
        let all = self.json(&["status", &self.name]);
        all.as_array()
            .expect("status is an array")
            .iter()
            .find(|s| s["environment"] == environment)
            .cloned()
            .unwrap_or_else(|| panic!("status lacks {environment}: {all}"))
    }

    /// `temps list PROJECT -o json`, without `can_roll_back` (Docker's word, given within
    /// 100 ms or not at all: see `TestEnv::history`).
    #[track_caller]
    pub fn history(&self) -> Vec<Value> {
        let mut records = self
            .json(&["list", &self.name, "--limit", "0"])
            .as_array()
            .expect("list is an array")
            .clone();
        for record in &mut records {
            if let Some(record) = record.as_object_mut() {
                record.remove("can_roll_back");
            }
        }
        records
    }
}

impl Drop for SwarmProject<'_> {
    fn drop(&mut self) {
        for environment in self.environments.borrow().iter() {
            self.lab.remove_service(&self.service(environment));
        }
    }
}

/// A deployment's id, as the argument temps takes.
pub fn id(record: &Value) -> String {
    record["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {record}"))
        .to_string()
}

/// The nodes the service's running tasks are on, sorted.
pub fn nodes_of(lab: &SwarmLab, service: &str) -> Vec<String> {
    let mut nodes: Vec<String> = lab
        .tasks(service)
        .into_iter()
        .filter(|t| t.state == "running")
        .map(|t| t.node)
        .collect();
    nodes.sort();
    nodes
}

/// Every node of the lab, sorted.
pub fn every_node(lab: &SwarmLab) -> Vec<String> {
    let mut nodes: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
    nodes.sort();
    nodes
}

/// Wait (at most 30 s) until the service is set to run `digest`: the update is under way.
#[track_caller]
pub fn wait_for_update(lab: &SwarmLab, service: &str, digest: &str) {
    let started = Instant::now();
    while lab.service_image(service) != digest {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{service} was never updated to {digest}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}
