//! The history without Docker: the schema and its migrations, the file's permissions,
//! refusing what is not ours, and the queries the operations build on.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tempfile::TempDir;

use super::schema::{self, CURRENT_VERSION};
use super::*;
use crate::error::{failure_of, ExitStatus};

/// A fresh folder and the path of a history file inside a folder that does not exist yet.
fn fresh() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data/temps.db");
    (dir, path)
}

fn open(path: &Path) -> Store {
    Store::open(path).expect("open the history")
}

fn web(store: &mut Store) -> Project {
    store
        .create_project("web", Preset::Docker, &ProjectChanges::default())
        .expect("create project")
}

fn new_deployment(project: &Project, env: &Environment, image: &str) -> NewDeployment {
    NewDeployment {
        project_id: project.id,
        environment_id: env.id,
        image: Some(image.to_string()),
        image_id: Some(format!("sha256:{image}")),
        status: Status::Pending,
        origin: Origin::Deploy,
        created_by: "alice".to_string(),
        reason: None,
        schema: None,
        schema_accepted_by: None,
    }
}

/// Record a deployment of `image` to `environment`.
fn record(store: &mut Store, project: &Project, environment: &str, image: &str) -> Deployment {
    let (deployment, _) = store
        .record(project.id, environment, |env| {
            Ok(new_deployment(project, env, image))
        })
        .expect("record");
    deployment
}

/// Record a deployment and make it serve, as a successful deploy does.
fn deploy(store: &mut Store, project: &Project, environment: &str, image: &str) -> Deployment {
    let d = record(store, project, environment, image);
    store
        .route(d.id, d.environment_id, EnvState::Normal, None)
        .expect("route")
}

fn ids(store: &Store, project: &Project, env: Option<i64>, limit: u64) -> Vec<i64> {
    let mut seen = Vec::new();
    store
        .each_deployment(project.id, env, limit, |d| {
            seen.push(d.id);
            Ok(())
        })
        .expect("each_deployment");
    seen
}

fn tables(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).expect("open raw");
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let names = stmt.query_map([], |r| r.get(0)).unwrap();
    names.collect::<rusqlite::Result<_>>().unwrap()
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn exit_status(err: &anyhow::Error) -> Option<ExitStatus> {
    failure_of(err).map(|f| f.status)
}

#[test]
fn opening_creates_the_schema_at_the_current_version() {
    let (_dir, path) = fresh();
    drop(open(&path));
    let have = tables(&path);
    for table in ["projects", "environments", "variables", "deployments"] {
        assert!(have.iter().any(|t| t == table), "no {table} in {have:?}");
    }
    assert_eq!(user_version(&path), CURRENT_VERSION);
}

#[test]
fn the_file_is_private_to_its_owner() {
    let (dir, path) = fresh();
    drop(open(&path));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "the database file");
    assert_eq!(mode(&dir.path().join("data")), 0o700, "its folder");
}

#[test]
fn migrations_are_idempotent_and_keep_the_data() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    web(&mut store);
    // Migrating an up-to-date database again changes nothing.
    schema::migrate(&mut store.conn).expect("migrate again");
    drop(store);
    let store = open(&path);
    assert_eq!(user_version(&path), CURRENT_VERSION);
    let names: Vec<String> = store
        .projects()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["web"]);
}

#[test]
fn an_older_database_is_upgraded() {
    let (_dir, path) = fresh();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    // An empty SQLite database: version 0, no tables.
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 0")
        .unwrap();
    let mut store = open(&path);
    assert_eq!(user_version(&path), CURRENT_VERSION);
    let have = tables(&path);
    for table in ["projects", "environments", "variables", "deployments"] {
        assert!(have.iter().any(|t| t == table), "no {table} in {have:?}");
    }
    web(&mut store);
}

#[test]
fn a_database_from_a_newer_temps_is_refused_and_left_alone() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    web(&mut store);
    drop(store);
    let newer = CURRENT_VERSION + 1;
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let before = fs::read(&path).unwrap();

    let err = Store::open(&path).err().expect("a newer schema is refused");
    assert_eq!(exit_status(&err), Some(ExitStatus::Unexpected));
    let message = format!("{err:#}");
    assert!(message.contains("newer"), "{message}");
    let hint = failure_of(&err)
        .and_then(|f| f.hint.clone())
        .unwrap_or_default();
    assert!(hint.contains("upgrade temps"), "{hint}");

    assert_eq!(user_version(&path), newer);
    assert!(fs::read(&path).unwrap() == before, "the file was rewritten");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_byte_for_byte() {
    for content in [
        b"these are my notes, not a database\n".repeat(200),
        b"short text\n".to_vec(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        fs::write(&path, &content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

        let err = Store::open(&path).err().expect("not a database");
        assert_eq!(exit_status(&err), Some(ExitStatus::Unexpected));
        let message = format!("{err:#}");
        assert!(message.contains("cannot use"), "{message}");
        let hint = failure_of(&err)
            .and_then(|f| f.hint.clone())
            .unwrap_or_default();
        assert!(hint.contains("untouched"), "{hint}");

        assert!(fs::read(&path).unwrap() == content, "the file was changed");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "its permissions were changed");
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["notes.db"], "files were left beside it");
    }
}

#[test]
fn projects_are_created_once_found_by_name_and_updated() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    assert_eq!(project.preset, Preset::Docker);
    assert_eq!(project.health_timeout, DEFAULT_HEALTH_TIMEOUT);
    assert_eq!(project.health_interval, DEFAULT_HEALTH_INTERVAL);
    assert_eq!(project.stop_timeout, DEFAULT_STOP_TIMEOUT);
    assert_eq!(project.health_path, None);

    let err = store
        .create_project("web", Preset::Static, &ProjectChanges::default())
        .unwrap_err();
    assert_eq!(exit_status(&err), Some(ExitStatus::Usage));

    let err = store.project("api").unwrap_err();
    assert_eq!(exit_status(&err), Some(ExitStatus::NotFound));
    let err = store
        .update_project("api", &ProjectChanges::default())
        .unwrap_err();
    assert_eq!(exit_status(&err), Some(ExitStatus::NotFound));

    let set = ProjectChanges {
        container_port: Some(3000),
        health_path: Some("/up".into()),
        health_timeout: Some(std::time::Duration::from_secs(2)),
        ..Default::default()
    };
    let updated = store.update_project("web", &set).unwrap();
    assert_eq!(updated.container_port, Some(3000));
    assert_eq!(updated.health_path.as_deref(), Some("/up"));
    assert_eq!(updated.health_timeout, std::time::Duration::from_secs(2));
    assert_eq!(updated.stop_timeout, DEFAULT_STOP_TIMEOUT, "untouched");

    let clear = ProjectChanges {
        health_path: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(
        store.update_project("web", &clear).unwrap().health_path,
        None
    );
}

#[test]
fn recording_creates_the_environment_and_a_pending_deployment() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let (d, env) = store
        .record(project.id, "production", |env| {
            Ok(new_deployment(&project, env, "web:1"))
        })
        .unwrap();
    assert_eq!(d.status, Status::Pending);
    assert_eq!(
        (d.project.as_str(), d.environment.as_str()),
        ("web", "production")
    );
    assert_eq!(d.image.as_deref(), Some("web:1"));
    assert_eq!(d.image_id.as_deref(), Some("sha256:web:1"));
    assert_eq!(d.created_by, "alice");
    assert_eq!(d.finished_at, None);
    assert!(d.containers.is_empty());
    assert_eq!(env.state, EnvState::Normal);
    assert_eq!(env.current_deployment_id, None, "recording does not route");
    assert_eq!(env.publish, None);

    // A new published port is remembered once the deployment serves, not before.
    let publish: Publish = "127.0.0.1:8080".parse().unwrap();
    store
        .route(d.id, env.id, EnvState::Normal, Some(&publish))
        .unwrap();
    let (_, env) = store
        .record(project.id, "production", |env| {
            Ok(new_deployment(&project, env, "web:2"))
        })
        .unwrap();
    assert_eq!(
        env.publish.map(|p| p.to_string()).as_deref(),
        Some("127.0.0.1:8080")
    );
    assert_eq!(store.environments(project.id).unwrap().len(), 1);
}

#[test]
fn a_failing_build_records_nothing() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let result = store.record(project.id, "production", |_| {
        Err(anyhow::anyhow!("refused"))
    });
    assert!(result.is_err());
    assert!(ids(&store, &project, None, 0).is_empty());
}

#[test]
fn routing_makes_one_deployment_serve_and_completes_the_one_before() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let first = deploy(&mut store, &project, "production", "web:1");
    assert_eq!(first.status, Status::Deployed);
    assert!(first.finished_at.is_some());
    let staging = deploy(&mut store, &project, "staging", "web:1");

    let second = record(&mut store, &project, "production", "web:2");
    store
        .begin_swap(
            second.id,
            second.environment_id,
            &["temps-web-production-3".to_string()],
        )
        .unwrap();
    assert_eq!(
        store.deployment(second.id).unwrap().unwrap().status,
        Status::Deploying
    );
    let second = store
        .route(second.id, second.environment_id, EnvState::RolledBack, None)
        .unwrap();
    assert_eq!(second.status, Status::Deployed);
    assert_eq!(second.containers, ["temps-web-production-3"]);

    let first = store.expect_deployment(first.id).unwrap();
    assert_eq!(first.status, Status::Completed);
    let env = store.environment_by_id(second.environment_id).unwrap();
    assert_eq!(env.current_deployment_id, Some(second.id));
    assert_eq!(env.state, EnvState::RolledBack);
    // Another environment's serving deployment is not touched.
    let staging = store.expect_deployment(staging.id).unwrap();
    assert_eq!(staging.status, Status::Deployed);
}

#[test]
fn an_unsuccessful_deployment_says_why_and_routing_clears_the_error() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let serving = deploy(&mut store, &project, "production", "web:1");
    let bad = record(&mut store, &project, "production", "web:2");
    let bad = store
        .finish_unsuccessful(bad.id, Status::Failed, "container exited with status 3")
        .unwrap();
    assert_eq!(bad.status, Status::Failed);
    assert_eq!(bad.error.as_deref(), Some("container exited with status 3"));
    assert!(bad.finished_at.is_some());
    let cancelled = record(&mut store, &project, "production", "web:3");
    let cancelled = store
        .finish_unsuccessful(cancelled.id, Status::Cancelled, "interrupted; #1 restored")
        .unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    // The serving deployment is untouched by failures.
    let env = store.environment_by_id(serving.environment_id).unwrap();
    assert_eq!(env.current_deployment_id, Some(serving.id));
    assert_eq!(
        store.expect_deployment(serving.id).unwrap().status,
        Status::Deployed
    );

    let retried = store
        .route(bad.id, bad.environment_id, EnvState::Normal, None)
        .unwrap();
    assert_eq!(retried.error, None);
}

#[test]
fn ready_records_when_it_finished() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let d = record(&mut store, &project, "production", "web:1");
    store.set_status(d.id, Status::Deploying).unwrap();
    assert_eq!(store.expect_deployment(d.id).unwrap().finished_at, None);
    store.set_status(d.id, Status::Ready).unwrap();
    let d = store.expect_deployment(d.id).unwrap();
    assert_eq!(d.status, Status::Ready);
    assert!(d.finished_at.is_some());
}

#[test]
fn the_history_comes_newest_first_with_a_limit() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let other = store
        .create_project("api", Preset::Docker, &ProjectChanges::default())
        .unwrap();
    let mut made = Vec::new();
    for (i, env) in [
        "production",
        "staging",
        "production",
        "production",
        "staging",
    ]
    .iter()
    .enumerate()
    {
        made.push(deploy(&mut store, &project, env, &format!("web:{i}")).id);
        deploy(&mut store, &other, env, "api:1");
    }
    let newest_first: Vec<i64> = made.iter().rev().copied().collect();

    assert_eq!(
        ids(&store, &project, None, 0),
        newest_first,
        "limit 0 is all"
    );
    assert_eq!(ids(&store, &project, None, 2), newest_first[..2]);
    assert_eq!(ids(&store, &project, None, 100), newest_first);

    let staging = store.environment(project.id, "staging").unwrap().unwrap();
    assert_eq!(
        ids(&store, &project, Some(staging.id), 0),
        [made[4], made[1]]
    );
    assert_eq!(ids(&store, &project, Some(staging.id), 1), [made[4]]);
}

#[test]
fn rollback_targets_are_earlier_successes_of_that_environment() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let one = deploy(&mut store, &project, "production", "web:1");
    let two = deploy(&mut store, &project, "production", "web:2");
    let failed = record(&mut store, &project, "production", "web:bad");
    store
        .finish_unsuccessful(failed.id, Status::Failed, "unhealthy")
        .unwrap();
    let ready = record(&mut store, &project, "production", "web:ready");
    store.set_status(ready.id, Status::Ready).unwrap();
    deploy(&mut store, &project, "staging", "web:1");
    let three = deploy(&mut store, &project, "production", "web:3");

    let env = store
        .environment(project.id, "production")
        .unwrap()
        .unwrap();
    assert_eq!(env.current_deployment_id, Some(three.id));
    let targets: Vec<i64> = store
        .rollback_targets(env.id, env.current_deployment_id)
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(targets, [two.id, one.id]);
    // Without a current deployment, the serving one counts too.
    let all: Vec<i64> = store
        .rollback_targets(env.id, None)
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(all, [three.id, two.id, one.id]);
}

#[test]
fn variables_are_set_replaced_and_unset_per_environment() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    store
        .set_variables(project.id, "production", &pairs(&[("A", "1"), ("B", "2")]))
        .unwrap();
    store
        .set_variables(project.id, "production", &pairs(&[("B", "two=2")]))
        .unwrap();
    store
        .set_variables(project.id, "staging", &pairs(&[("A", "staging")]))
        .unwrap();
    let production = store
        .environment(project.id, "production")
        .unwrap()
        .unwrap();
    let staging = store.environment(project.id, "staging").unwrap().unwrap();
    let expected: BTreeMap<String, String> =
        pairs(&[("A", "1"), ("B", "two=2")]).into_iter().collect();
    assert_eq!(store.variables(production.id).unwrap(), expected);
    assert_eq!(store.variables(staging.id).unwrap()["A"], "staging");

    let missing = store
        .unset_variables(production.id, &["A".into(), "NOPE".into()])
        .unwrap();
    assert_eq!(missing, ["NOPE"]);
    assert_eq!(
        store
            .variables(production.id)
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["B"]
    );
    assert_eq!(
        store.variables(staging.id).unwrap().len(),
        1,
        "other environment kept"
    );
}

#[test]
fn a_deployment_remembers_digests_of_its_variables_never_the_values() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let secret = "postgres://user:hunter2@db/app";
    store
        .set_variables(
            project.id,
            "production",
            &[
                ("DATABASE_URL".into(), secret.into()),
                ("GREETING".into(), "hello".into()),
            ],
        )
        .unwrap();
    let d = record(&mut store, &project, "production", "web:1");
    let expected: BTreeMap<String, String> = [
        ("DATABASE_URL".to_string(), digest("DATABASE_URL", secret)),
        ("GREETING".to_string(), digest("GREETING", "hello")),
    ]
    .into_iter()
    .collect();
    assert_eq!(d.variables_digest, expected);

    // A later change does not rewrite what the deployment ran with.
    store
        .set_variables(
            project.id,
            "production",
            &[("GREETING".into(), "hi".into())],
        )
        .unwrap();
    let again = store.expect_deployment(d.id).unwrap();
    assert_eq!(
        again.variables_digest["GREETING"],
        digest("GREETING", "hello")
    );
    let next = record(&mut store, &project, "production", "web:2");
    assert_eq!(next.variables_digest["GREETING"], digest("GREETING", "hi"));

    // Neither the row nor the record shown to users holds a value.
    let raw: String = store
        .conn
        .query_row(
            "SELECT variables_digest FROM deployments WHERE id = ?1",
            [d.id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!raw.contains("hunter2") && !raw.contains("hello"), "{raw}");
    let json = serde_json::to_string(&again).unwrap();
    assert!(
        !json.contains("hunter2") && !json.contains("hello"),
        "{json}"
    );
}

#[test]
fn digests_tell_changes_apart_and_are_stable() {
    assert_eq!(digest("A", "1"), digest("A", "1"));
    assert_ne!(digest("A", "1"), digest("A", "2"));
    assert_ne!(digest("A", "1"), digest("B", "1"));
    // The key and the value are separated: moving a character across does not collide.
    assert_ne!(digest("AB", "C"), digest("A", "BC"));
    let d = digest("SECRET", "hunter2");
    assert_eq!(d.len(), 16);
    assert!(d.chars().all(|c| c.is_ascii_hexdigit()), "{d}");
    assert!(!d.contains("hunter2"));
}

#[test]
fn a_deployment_serializes_to_the_fields_of_the_spec() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let d = deploy(&mut store, &project, "production", "web:1");
    let value = serde_json::to_value(&d).unwrap();
    for field in [
        "id",
        "project",
        "environment",
        "image",
        "image_id",
        "status",
        "is_rollback",
        "rolled_back_from_id",
        "rolled_back_to_id",
        "is_promote",
        "created_at",
        "finished_at",
        "created_by",
        "reason",
        "error",
        "containers",
        "warm_until",
    ] {
        assert!(value.get(field).is_some(), "no {field} in {value}");
    }
    assert!(value.get("artifact").is_none(), "artifact only for static");
    assert!(value.get("variables_digest").is_none());
    assert_eq!(value["status"], "deployed");
    assert_eq!(value["is_rollback"], false);
    assert!(value["rolled_back_from_id"].is_null());
    assert!(value["warm_until"].is_null());
    let created = value["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");

    store
        .set_artifact(d.id, "/srv/static/web/releases/1")
        .unwrap();
    let value = serde_json::to_value(store.expect_deployment(d.id).unwrap()).unwrap();
    assert_eq!(value["artifact"], "/srv/static/web/releases/1");
}

#[test]
fn static_releases_live_beside_the_database() {
    let (dir, path) = fresh();
    let store = open(&path);
    assert_eq!(store.path(), path);
    assert_eq!(store.static_root(), dir.path().join("data/static"));
}

#[test]
fn a_newer_database_in_rollback_journal_mode_is_left_byte_for_byte() {
    let (_dir, path) = fresh();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = DELETE; CREATE TABLE future (x); PRAGMA user_version = 99;",
    )
    .unwrap();
    drop(conn);
    let before = fs::read(&path).unwrap();
    let err = Store::open(&path).err().expect("a newer schema is refused");
    assert_eq!(exit_status(&err), Some(ExitStatus::Unexpected));
    assert!(fs::read(&path).unwrap() == before, "the file was rewritten");
}

#[test]
fn swarm_mode_is_remembered_apart_from_proxy_mode_and_both_are_read_back() {
    let (_dir, path) = fresh();
    let mut store = open(&path);
    let project = web(&mut store);
    let first = record(&mut store, &project, "production", "web:1");
    let publish: Publish = "8080".parse().expect("a port");
    store
        .remember_swarm(first.environment_id, 3, Some(&publish))
        .expect("remember swarm mode");
    let env = store.environment_by_id(first.environment_id).expect("env");
    assert!(env.swarm);
    assert_eq!(env.replicas, 3);
    assert_eq!(env.publish, Some(publish));
    assert_eq!(env.proxy, None);

    let staging = record(&mut store, &project, "staging", "web:1");
    let domains: Vec<String> = Vec::new();
    store
        .remember_address(
            staging.environment_id,
            None,
            Some(ProxySettings {
                listen: "127.0.0.1:8081",
                replicas: 2,
                drain_ms: 1000,
                response_timeout_ms: 1000,
                domains: &domains,
                standby_ms: 0,
                tls: &Tls::Off,
                hsts_ms: 0,
            }),
        )
        .expect("remember proxy mode");
    // The project's name comes after however many columns an environment has.
    let proxied = store.proxied_environments().expect("proxied environments");
    assert_eq!(proxied.len(), 1);
    assert_eq!(proxied[0].0.name, "staging");
    assert!(!proxied[0].0.swarm);
    assert_eq!(proxied[0].1, "web");
}

#[test]
fn a_proxy_that_takes_over_counts_what_the_one_before_has_in_flight_from_its_first_report() {
    let dir = tempfile::tempdir().expect("a folder");
    let mut store = open(&dir.path().join("temps.db"));
    let report = |pid: u32, in_flight: u64| ProxyState {
        pid,
        started_at: 0,
        heartbeat_at: 0,
        generation: 1,
        listening: vec!["127.0.0.1:80".into()],
        in_flight: BTreeMap::from([("10.0.0.1:8080".to_string(), in_flight)]),
        answers: BTreeMap::new(),
    };
    // The proxy serving now (this very process, so that it runs) has one request in
    // flight; its successor (pid 1 stands for it) reports before it says it drains.
    let old = std::process::id();
    store.report_proxy_state(&report(old, 1)).expect("report");
    store.report_proxy_state(&report(1, 0)).expect("report");
    let state = store.proxy_state().expect("read").expect("a state");
    assert_eq!(state.pid, 1);
    assert_eq!(state.in_flight["10.0.0.1:8080"], 1, "{state:?}");
    // Once the old one has drained and gone, nothing is left of it.
    store.report_draining(None, old).expect("report");
    let state = store.proxy_state().expect("read").expect("a state");
    assert_eq!(state.in_flight["10.0.0.1:8080"], 0, "{state:?}");
}
