//! `temps prune`: per environment, keep the newest N successful deployments (and always
//! the current one); remove the others' containers, pinned tags and static releases. `--dry-run` only
//! lists them. `temps list` then says which deployments can no longer be rolled back to.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;
use crate::require_docker;

/// A tag removed when the test ends, however it ends.
struct Tag(String);

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", &self.0])
            .output();
    }
}

/// An image no other test has (a commit of web:v1 with a label of its own), so that once
/// its tag is removed, only temps keeps it on the host.
fn unique_image(project: &str) -> Tag {
    let tag = Tag(format!("temps-test/prune-{project}:1"));
    let helper = format!("{project}-commit");
    docker(&["create", "--name", &helper, WEB_V1]).code(0);
    let label = format!("LABEL dev.temps.test={project}");
    let made = docker(&["commit", "--change", &label, &helper, &tag.0]);
    docker(&["rm", &helper]).code(0);
    made.code(0);
    tag
}

fn container(d: &Value) -> String {
    d["containers"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no container in {d}"))
        .to_string()
}

fn exists(name: &str) -> bool {
    docker_inspect(name, "{{.Id}}").is_some()
}

/// The ids a prune document names.
fn pruned_ids(document: &Value) -> BTreeSet<i64> {
    document["pruned"]
        .as_array()
        .unwrap_or_else(|| panic!("no `pruned` in {document}"))
        .iter()
        .map(|p| p["deployment_id"].as_i64().expect("deployment_id"))
        .collect()
}

fn ids(records: &[&Value]) -> BTreeSet<i64> {
    records
        .iter()
        .map(|d| d["id"].as_i64().expect("id"))
        .collect()
}

/// The row of `temps list` for a deployment.
/// `temps list PROJECT` once the row of `d` says `note`: the NOTE column hears from
/// Docker only when it answers within `list`'s budget.
fn heard_table(env: &TestEnv, project: &str, d: &Value, note: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let table = env.ok(&["list", project]).stdout;
        if row(&table, d).contains(note) {
            return table;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "#{} never said `{note}`:\n{table}",
            id(d)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn row<'a>(table: &'a str, d: &Value) -> &'a str {
    let id = id(d);
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no row for #{id} in\n{table}"))
}

#[test]
fn prune_removes_old_containers_and_tags_and_never_the_current_ones() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("prune");
    let port = free_port();
    let unique = unique_image(&web);
    let d1 = deploy(&env, &web, &unique.0, &["--publish", &port.to_string()]);
    docker(&["rmi", &unique.0]).code(0);
    let d2 = deploy(&env, &web, WEB_V1, &[]);
    let d3 = deploy(&env, &web, WEB_V2, &[]);
    let d4 = deploy(&env, &web, WEB_V1, &[]);
    let pin = |d: &Value| format!("temps/{web}:{}", id(d));
    for d in [&d1, &d2, &d3, &d4] {
        assert!(exists(&container(d)), "{} is missing", container(d));
        assert!(exists(&pin(d)), "{} is missing", pin(d));
    }
    let before = env.history(&[&web, "--limit", "0"]);

    let plan = env.json(&["prune", &web, "--keep", "2", "--dry-run"]);
    assert_eq!(plan["dry_run"], true, "{plan}");
    assert_eq!(pruned_ids(&plan), ids(&[&d1, &d2]), "{plan}");
    for item in plan["pruned"].as_array().unwrap() {
        let d = if item["deployment_id"] == d1["id"] {
            &d1
        } else {
            &d2
        };
        assert_eq!(
            item["containers"],
            serde_json::json!([container(d)]),
            "{item}"
        );
        assert_eq!(item["tags"], serde_json::json!([pin(d)]), "{item}");
        assert_eq!(item["environment"], "production", "{item}");
    }
    let table = env.ok(&["prune", &web, "--keep", "2", "--dry-run"]);
    for d in [&d1, &d2] {
        assert!(table.stdout.contains(&container(d)), "{}", table.stdout);
    }
    assert!(!table.stdout.contains(&container(&d3)), "{}", table.stdout);
    for d in [&d1, &d2, &d3, &d4] {
        assert!(
            exists(&container(d)),
            "the dry run removed {}",
            container(d)
        );
        assert!(exists(&pin(d)), "the dry run removed {}", pin(d));
    }
    assert_eq!(
        env.history(&[&web, "--limit", "0"]),
        before,
        "the dry run changed the history"
    );

    let done = env.json(&["prune", &web, "--keep", "2"]);
    assert_eq!(done["dry_run"], false, "{done}");
    assert_eq!(
        done["pruned"], plan["pruned"],
        "the prune differs from its dry run"
    );
    for d in [&d1, &d2] {
        assert!(!exists(&container(d)), "{} was kept", container(d));
        assert!(!exists(&pin(d)), "{} was kept", pin(d));
    }
    for d in [&d3, &d4] {
        assert!(exists(&container(d)), "{} was removed", container(d));
        assert!(exists(&pin(d)), "{} was removed", pin(d));
    }
    assert_eq!(
        docker_inspect(&container(&d4), "{{.State.Running}}").as_deref(),
        Some("true")
    );
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let image = |d: &Value| d["image_id"].as_str().expect("image_id").to_string();
    assert!(
        !exists(&image(&d1)),
        "the unique image of #{} is still there",
        id(&d1)
    );
    assert!(exists(&image(&d2)), "web:v1 was removed");

    // The history keeps every row, and says which can still be rolled back to.
    let after = env.history_heard(&[&web, "--limit", "0"]);
    let after = after.as_array().expect("a list");
    assert_eq!(after.len(), 4, "{after:?}");
    for (d, can) in [(&d1, false), (&d2, true), (&d3, true), (&d4, false)] {
        assert_eq!(
            listed(after, d)["can_roll_back"],
            can,
            "can_roll_back of #{}: {after:?}",
            id(d)
        );
    }
    // The table's NOTE, once Docker answers within the budget.
    let list = heard_table(&env, &web, &d1, "image gone");
    for d in [&d2, &d3, &d4] {
        assert!(
            !row(&list, d).contains("gone"),
            "#{} is not gone:\n{list}",
            id(d)
        );
    }
    env.run(&["rollback", &id(&d1), "--yes"])
        .code(4)
        .stderr_has("temps deploy");

    // --keep 0: only the current one stays.
    let rest = env.json(&["prune", &web, "--keep", "0"]);
    assert_eq!(pruned_ids(&rest), ids(&[&d3]), "{rest}");
    assert!(!exists(&container(&d3)) && !exists(&pin(&d3)));
    assert!(
        exists(&container(&d4)) && exists(&pin(&d4)),
        "the current one was pruned"
    );
    assert_eq!(serving(port).as_deref(), Some("v1"));
    // web:v2 keeps its own tag: #3 can still be rolled back to.
    let after = env.history_heard(&[&web, "--limit", "0"]);
    assert_eq!(
        listed(after.as_array().expect("a list"), &d3)["can_roll_back"],
        true
    );
    let again = env.json(&["prune", &web, "--keep", "0"]);
    assert_eq!(again["pruned"], serde_json::json!([]), "{again}");
}

#[test]
fn prune_removes_old_static_releases_and_keeps_what_current_points_at() {
    let env = TestEnv::new();
    let site = env.project_name("prune-site");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let mut releases = Vec::new();
    for n in 1..=4 {
        let dist = env.dir.path().join(format!("dist{n}"));
        std::fs::create_dir_all(&dist).expect("dist");
        std::fs::write(dist.join("index.html"), format!("r{n}\n")).expect("index");
        releases.push(env.json(&["deploy", &site, "--dir", &dist.to_string_lossy()]));
    }
    let [d1, d2, d3, d4] = [0, 1, 2, 3].map(|i| releases[i].clone());
    let d5 = env.json(&["rollback", &id(&d2), "--yes"]);
    let folder = |d: &Value| d["artifact"].as_str().expect("artifact").to_string();
    assert_eq!(
        folder(&d5),
        folder(&d2),
        "a static rollback points at its target's release"
    );
    let current = env
        .db()
        .parent()
        .expect("data folder")
        .join("static")
        .join(&site)
        .join("production/current");
    let served = || std::fs::read_to_string(current.join("index.html")).ok();
    assert_eq!(served().as_deref(), Some("r2\n"));

    let plan = env.json(&["prune", &site, "--keep", "2", "--dry-run"]);
    assert_eq!(pruned_ids(&plan), ids(&[&d1, &d3]), "{plan}");
    for item in plan["pruned"].as_array().unwrap() {
        let d = if item["deployment_id"] == d1["id"] {
            &d1
        } else {
            &d3
        };
        assert_eq!(item["releases"], serde_json::json!([folder(d)]), "{item}");
    }
    for d in [&d1, &d2, &d3, &d4] {
        assert!(
            Path::new(&folder(d)).is_dir(),
            "the dry run removed {}",
            folder(d)
        );
    }

    let done = env.json(&["prune", &site, "--keep", "2"]);
    assert_eq!(
        done["pruned"], plan["pruned"],
        "the prune differs from its dry run"
    );
    for d in [&d1, &d3] {
        assert!(!Path::new(&folder(d)).exists(), "{} was kept", folder(d));
    }
    for d in [&d2, &d4] {
        assert!(Path::new(&folder(d)).is_dir(), "{} was removed", folder(d));
    }
    assert_eq!(
        served().as_deref(),
        Some("r2\n"),
        "what `current` points at was pruned"
    );

    let after = history(&env, &site);
    assert_eq!(after.len(), 5, "{after:?}");
    for (d, can) in [
        (&d1, false),
        (&d2, true),
        (&d3, false),
        (&d4, true),
        (&d5, false),
    ] {
        assert_eq!(
            listed(&after, d)["can_roll_back"],
            can,
            "can_roll_back of #{}: {after:?}",
            id(d)
        );
    }
    let list = env.ok(&["list", &site]).stdout;
    for d in [&d1, &d3] {
        assert!(row(&list, d).contains("release gone"), "{list}");
    }
    for d in [&d2, &d4, &d5] {
        assert!(
            !row(&list, d).contains("gone"),
            "#{} is not gone:\n{list}",
            id(d)
        );
    }
    env.run(&["rollback", &id(&d3), "--yes"]).code(4);

    // --keep 0: only the current one (and the release it shares with #2) stays.
    let rest = env.json(&["prune", &site, "--keep", "0"]);
    assert_eq!(pruned_ids(&rest), ids(&[&d4]), "{rest}");
    assert!(!Path::new(&folder(&d4)).exists());
    assert!(
        Path::new(&folder(&d2)).is_dir(),
        "the current release was pruned"
    );
    assert_eq!(served().as_deref(), Some("r2\n"));
}
