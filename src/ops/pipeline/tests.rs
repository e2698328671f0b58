//! The rollback pipeline driven as any entry point drives it, with a scripted prompt and
//! a progress sink that records the stages: static releases, so no Docker is needed.

use std::cell::RefCell;

use crate::error::{exit_status_of, ExitStatus};
use crate::ops::deploy::folder::{deploy_dir, DirRequest};
use crate::ops::gate::Choice;
use crate::ops::redeploy::{self, Kind, Outcome, Plan, Prompt, Request, Target};
use crate::progress::{Event, Progress, Stage};
use crate::store::{Origin, Preset, ProjectChanges, Store};

/// Answers as it was told, and remembers what it was asked.
struct Scripted {
    confirm: bool,
    asked: RefCell<Vec<String>>,
}

impl Prompt for Scripted {
    fn choose(&self, choice: &Choice<'_>) -> anyhow::Result<i64> {
        self.asked.borrow_mut().push("choose".into());
        choice.most_recent()
    }

    fn confirm(&self, plan: &Plan) -> anyhow::Result<bool> {
        self.asked
            .borrow_mut()
            .push(format!("confirm #{}", plan.target.id));
        Ok(self.confirm)
    }
}

#[derive(Default)]
struct Recorder {
    stages: RefCell<Vec<Stage>>,
}

impl Progress for Recorder {
    fn event(&self, event: Event<'_>) {
        if let Event::Stage(stage) = event {
            self.stages.borrow_mut().push(stage);
        }
    }
    fn warn(&self, _message: &str) {}
}

/// A history with a static project `site` and two releases, #1 and #2 (serving).
fn two_releases(dir: &std::path::Path) -> Store {
    releases(dir, [None, None])
}

/// Two releases, each with the schema (and compat) it declares.
fn releases(dir: &std::path::Path, schemas: [Option<(&str, Option<&str>)>; 2]) -> Store {
    let mut store = Store::open(&dir.join("temps.db")).expect("open the history");
    store
        .create_project("site", Preset::Static, &ProjectChanges::default())
        .expect("create the project");
    for (body, schema) in ["one", "two"].into_iter().zip(schemas) {
        let build = dir.join(body);
        std::fs::create_dir_all(&build).expect("a build folder");
        std::fs::write(build.join("index.html"), body).expect("a page");
        let request = DirRequest {
            project: "site".into(),
            environment: "production".into(),
            dir: build,
            reason: None,
            created_by: "test".into(),
            command: "deploy".into(),
            wait_lock: None,
            schema: schema.map(|(s, _)| s.parse().expect("a version")),
            schema_compat: schema
                .and_then(|(_, c)| c)
                .map(|c| c.parse().expect("a version")),
        };
        block_on(deploy_dir(&mut store, request, &Recorder::default())).expect("deploy");
    }
    store
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

fn rollback_to_most_recent() -> Request {
    Request {
        kind: Kind::Rollback,
        target: Target::MostRecent {
            project: "site".into(),
            environment: "production".into(),
        },
        reason: Some("bad release".into()),
        created_by: "test".into(),
        wait_lock: None,
        health_timeout: None,
        keep_replaced_warm: true,
        accept_schema: false,
    }
}

fn ids(store: &Store) -> Vec<i64> {
    let project = store.project("site").expect("project");
    let mut ids = Vec::new();
    store
        .each_deployment(project.id, None, 0, |d| {
            ids.push(d.id);
            Ok(())
        })
        .expect("history");
    ids
}

#[test]
fn the_rollback_pipeline_runs_its_stages_in_order() {
    let dir = tempfile::tempdir().expect("a folder");
    let mut store = two_releases(dir.path());
    let prompt = Scripted {
        confirm: true,
        asked: RefCell::default(),
    };
    let progress = Recorder::default();
    let outcome = block_on(redeploy::run(
        &mut store,
        rollback_to_most_recent(),
        &prompt,
        &progress,
    ))
    .expect("the rollback");
    let Outcome::Switched { deployment, .. } = outcome else {
        panic!("a rollback switches");
    };
    assert_eq!(deployment.id, 3);
    assert_eq!(
        deployment.origin,
        Origin::Rollback {
            from: Some(2),
            to: Some(1)
        }
    );
    assert_eq!(*prompt.asked.borrow(), ["choose", "confirm #1"]);
    assert_eq!(
        *progress.stages.borrow(),
        [
            Stage::Lock,
            Stage::Validate,
            Stage::Confirm,
            Stage::Reconcile,
            Stage::PreHook,
            Stage::Record,
            Stage::Switch,
            Stage::PostHook,
            Stage::Unlock,
        ]
    );
}

#[test]
fn a_declined_confirmation_records_nothing_and_releases_the_lock() {
    let dir = tempfile::tempdir().expect("a folder");
    let mut store = two_releases(dir.path());
    let before = ids(&store);
    let prompt = Scripted {
        confirm: false,
        asked: RefCell::default(),
    };
    let progress = Recorder::default();
    let err = block_on(redeploy::run(
        &mut store,
        rollback_to_most_recent(),
        &prompt,
        &progress,
    ))
    .err()
    .expect("declined");
    assert_eq!(exit_status_of(&err), ExitStatus::Usage, "{err:#}");
    assert_eq!(
        ids(&store),
        before,
        "a declined rollback wrote a deployment"
    );
    assert_eq!(
        *progress.stages.borrow(),
        [Stage::Lock, Stage::Validate, Stage::Confirm, Stage::Unlock],
        "a refused operation tells its lock let go too"
    );
    // The lock went with the pipeline: the same rollback, confirmed, runs at once.
    let prompt = Scripted {
        confirm: true,
        asked: RefCell::default(),
    };
    block_on(redeploy::run(
        &mut store,
        rollback_to_most_recent(),
        &prompt,
        &Recorder::default(),
    ))
    .expect("the confirmed rollback");
}

#[test]
fn a_rollback_below_the_schema_floor_is_refused_and_an_accepted_one_recorded() {
    let dir = tempfile::tempdir().expect("a folder");
    let mut store = releases(dir.path(), [Some(("35", None)), Some(("42", Some("40")))]);
    let prompt = Scripted {
        confirm: true,
        asked: RefCell::default(),
    };
    // With no id: #1 is marked, and nothing else is there to go back to.
    let err = block_on(redeploy::run(
        &mut store,
        rollback_to_most_recent(),
        &prompt,
        &Recorder::default(),
    ))
    .err()
    .expect("refused");
    assert_eq!(exit_status_of(&err), ExitStatus::Refused);
    assert!(format!("{err:#}").contains("schema 35, below the database's floor 40 (#2)"));
    // By id: the gate names the numbers.
    let by_id = || Request {
        target: Target::Id(1),
        ..rollback_to_most_recent()
    };
    let err = block_on(redeploy::run(
        &mut store,
        by_id(),
        &prompt,
        &Recorder::default(),
    ))
    .err()
    .expect("refused");
    assert_eq!(exit_status_of(&err), ExitStatus::Refused);
    assert_eq!(
        err.to_string(),
        "the database of site/production is at schema 42 and needs code of schema 40 or newer (#2); #1 is schema 35"
    );
    assert_eq!(ids(&store), [2, 1], "nothing recorded");
    // Accepted: recorded with who accepted, and the database is at 35 from then on.
    let accepted = Request {
        accept_schema: true,
        ..by_id()
    };
    let outcome = block_on(redeploy::run(
        &mut store,
        accepted,
        &prompt,
        &Recorder::default(),
    ))
    .expect("the accepted rollback");
    let Outcome::Switched { deployment, .. } = outcome else {
        panic!("a rollback switches");
    };
    assert_eq!(deployment.schema_accepted_by.as_deref(), Some("test"));
    assert_eq!(
        deployment.schema.as_ref().map(|s| s.version.as_str()),
        Some("35")
    );
    let database = store
        .database(deployment.environment_id)
        .expect("the database")
        .expect("declared");
    assert_eq!(
        (database.schema.as_str(), database.floor.as_str()),
        ("35", "35")
    );
}
