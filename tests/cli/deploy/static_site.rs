//! The static preset: a deploy copies a directory into a release beside the database and
//! points the environment's `current` symlink at it. No Docker involved.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::*;

/// A build output folder with an index, a nested file and a relative symlink.
fn build(root: &Path, version: &str) -> PathBuf {
    let dir = root.join(format!("dist-{version}"));
    fs::create_dir_all(dir.join("assets")).unwrap();
    fs::write(dir.join("index.html"), format!("{version}\n")).unwrap();
    fs::write(
        dir.join("assets/app.js"),
        format!("console.log('{version}')\n"),
    )
    .unwrap();
    symlink("index.html", dir.join("home.html")).unwrap();
    dir
}

#[test]
fn a_static_deploy_copies_a_release_and_points_current_at_it() {
    let env = TestEnv::new();
    let site = env.project_name("site");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let static_root = env.db().parent().unwrap().join("static").join(&site);
    let current = static_root.join("production/current");

    let one = build(env.dir.path(), "one");
    let first = env
        .ok(&["deploy", &site, "--dir", one.to_str().unwrap()])
        .stdout_has(&format!("to {site}/production"));
    assert!(first.stdout.starts_with("deployed #1 "), "{}", first.stdout);
    let release_1 = static_root.join("releases/1");
    assert_eq!(
        fs::read_to_string(release_1.join("index.html")).unwrap(),
        "one\n"
    );
    assert_eq!(
        fs::read_to_string(release_1.join("assets/app.js")).unwrap(),
        "console.log('one')\n"
    );
    assert_eq!(
        fs::read_link(release_1.join("home.html")).unwrap(),
        Path::new("index.html")
    );
    assert_eq!(fs::read_link(&current).unwrap(), release_1);
    assert_eq!(
        fs::read_to_string(current.join("index.html")).unwrap(),
        "one\n"
    );

    // A later change to the build folder does not touch the release.
    fs::write(one.join("index.html"), "edited\n").unwrap();
    assert_eq!(
        fs::read_to_string(release_1.join("index.html")).unwrap(),
        "one\n"
    );

    let two = build(env.dir.path(), "two");
    let d = env.json(&["deploy", &site, "--dir", two.to_str().unwrap()]);
    let id = d["id"].as_i64().unwrap();
    let release_2 = static_root.join(format!("releases/{id}"));
    assert!(d["image"].is_null() && d["image_id"].is_null(), "{d}");
    assert_eq!(d["artifact"], release_2.to_str().unwrap());
    assert_eq!(d["status"], "deployed");
    assert_eq!(d["created_by"], "alice");
    assert_eq!(fs::read_link(&current).unwrap(), release_2);
    assert_eq!(
        fs::read_to_string(current.join("index.html")).unwrap(),
        "two\n"
    );
    assert!(
        release_1.join("index.html").is_file(),
        "the first release is kept"
    );
    assert_eq!(statuses(&env, &site), ["deployed", "completed"]);

    // Status needs no Docker for a static project.
    let status = without_docker(&env, &["--output", "json", "status", &site]).code(0);
    let status = status.json();
    assert_eq!(status[0]["current"]["id"], id);
    assert_eq!(status[0]["drift"], serde_json::json!([]));
}

#[test]
fn a_static_project_refuses_images_ports_and_missing_folders() {
    let env = TestEnv::new();
    let site = env.project_name("strict");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let dist = build(env.dir.path(), "x");
    let dist = dist.to_str().unwrap();

    let run = env.run(&["deploy", &site, "--image", WEB_V1]).code(2);
    assert_error_with_hint(&run);
    run.stderr_has("static");
    let run = env
        .run(&["deploy", &site, "--dir", dist, "--publish", "8080"])
        .code(2);
    assert_error_with_hint(&run);
    let missing = env.dir.path().join("no-such-folder");
    let run = env
        .run(&["deploy", &site, "--dir", missing.to_str().unwrap()])
        .code(2);
    assert_error_with_hint(&run);
    // Both at once is a usage error too.
    env.run(&["deploy", &site, "--dir", dist, "--image", WEB_V1])
        .code(2);
    assert!(history(&env, &site).is_empty());

    // And a docker project refuses a directory.
    let web = env.project_name("notstatic");
    env.ok(&["project", "create", &web]);
    let run = env.run(&["deploy", &web, "--dir", dist]).code(2);
    assert_error_with_hint(&run);
    run.stderr_has("--image");
}
