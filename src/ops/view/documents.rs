//! The JSON documents that the command line (`-o json`) and the HTTP API both answer
//! with, written once.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::clock::{format_duration, rfc3339};
use crate::ops::redeploy::Plan;
use crate::store::{Environment, Project};

/// A project as `project show -o json` prints it, with the environments given.
pub fn project(project: &Project, envs: &[Environment]) -> serde_json::Value {
    json!({
        "name": project.name,
        "preset": project.preset.as_str(),
        "container_port": project.container_port,
        "health_path": project.health_path,
        "health_timeout": format_duration(project.health_timeout),
        "health_interval": format_duration(project.health_interval),
        "stop_timeout": format_duration(project.stop_timeout),
        "hooks": project.hooks_dir,
        "hook_timeout": format_duration(project.hook_timeout),
        "watch": format_duration(project.watch),
        "created_at": rfc3339(project.created_at),
        "environments": envs.iter().map(|e| json!({
            "name": e.name,
            "publish": e.publish.as_ref().map(|p| p.to_string()),
            "current_deployment_id": e.current_deployment_id,
            "state": e.state.as_str(),
            "swarm": e.swarm.then(|| json!({
                "service": crate::docker::service_name(&project.name, &e.name),
                "replicas": e.replicas,
            })),
        })).collect::<Vec<_>>(),
    })
}

/// A validated rollback or promote, as `--dry-run -o json` prints it.
pub fn plan(plan: &Plan) -> Value {
    let mut document = json!({
        "dry_run": true,
        "action": plan.kind.noun(),
        "project": plan.project.name,
        "environment": plan.environment.name,
        "state": plan.environment.state.as_str(),
        "current": plan.current,
        "target": plan.target,
        "changed_variables": plan.changed_variables,
        "addresses": plan.environment.addresses(),
        "domains": plan.environment.reached_by(),
        "schema": schema(plan),
    });
    // Proxy mode: whether the target's warm containers are reused, and why (or not).
    if let (Some(path), Some(fields)) = (&plan.path, document.as_object_mut()) {
        fields.insert("path".into(), json!(path.name()));
        fields.insert("path_reason".into(), json!(path.reason));
    }
    document
}

/// The database against the target's code: `null` when neither declares a schema;
/// `compatible` is `null` (unknown) unless both do.
pub fn schema(plan: &Plan) -> Value {
    let database = plan.database.as_ref();
    let target = plan.target.schema.as_ref().map(|s| &s.version);
    if database.is_none() && target.is_none() {
        return Value::Null;
    }
    json!({
        "database": database.map(|d| &d.schema),
        "floor": database.map(|d| &d.floor),
        "target": target,
        "compatible": plan.schema_compatible(),
    })
}

/// An environment's variables as `env list -o json` prints them: values masked unless
/// `reveal`.
pub fn variables(
    project: &str,
    environment: &str,
    variables: &BTreeMap<String, String>,
    reveal: bool,
) -> Value {
    let shown: BTreeMap<&String, &str> = variables
        .iter()
        .map(|(k, v)| (k, if reveal { v.as_str() } else { MASK }))
        .collect();
    json!({
        "project": project,
        "environment": environment,
        "revealed": reveal,
        "variables": shown,
    })
}

/// What a variable's value looks like when it is not revealed.
pub const MASK: &str = "********";
