//! Hooks for runbooks: executables in the project's hooks folder, run around deploy,
//! rollback and promote. A failing `pre-` hook stops the operation before anything
//! changes (exit 4, its output shown); a failing `post-` hook is reported and undoes
//! nothing; a hook past its timeout is killed, with what it started.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::*;
use crate::require_docker;

const HOOKS: [&str; 6] = [
    "pre-deploy",
    "post-deploy",
    "pre-rollback",
    "post-rollback",
    "pre-promote",
    "post-promote",
];

/// Every hook writes its `TEMPS_*` variables to `NAME.env` in its working folder.
const DUMP: &str = "env | grep '^TEMPS_' > \"$TEMPS_HOOK.env\"";

/// The variables hook `name` saw the last time it ran.
fn seen(hooks: &Path, name: &str) -> HashMap<String, String> {
    let path = hooks.join(format!("{name}.env"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("hook {name} did not run in its folder ({e})"));
    std::fs::remove_file(&path).expect("remove the dump");
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[track_caller]
fn assert_vars(vars: &HashMap<String, String>, expected: &[(&str, &str)]) {
    for (key, value) in expected {
        assert_eq!(
            vars.get(*key).map(String::as_str),
            Some(*value),
            "{key} in {vars:#?}"
        );
    }
}

#[test]
fn hooks_receive_what_is_happening() {
    require_docker!();
    let env = TestEnv::new();
    let (web, hooks) = project_with_hooks(&env, "hook-vars");
    for name in HOOKS {
        write_hook(&hooks, name, DUMP, true);
    }
    let port = free_port().to_string();

    let v1 = deploy(
        &env,
        &web,
        WEB_V1,
        &["--publish", &port, "--reason", "first"],
    );
    let common = [
        ("TEMPS_PROJECT", web.as_str()),
        ("TEMPS_ENVIRONMENT", "production"),
        ("TEMPS_USER", "alice"),
    ];
    let pre = seen(&hooks, "pre-deploy");
    assert_vars(&pre, &common);
    assert_vars(
        &pre,
        &[
            ("TEMPS_HOOK", "pre-deploy"),
            ("TEMPS_DEPLOYMENT_ID", ""),
            ("TEMPS_IMAGE", WEB_V1),
            ("TEMPS_REASON", "first"),
            ("TEMPS_OUTCOME", "pending"),
            ("TEMPS_ROLLED_BACK_FROM_ID", ""),
            ("TEMPS_ROLLED_BACK_TO_ID", ""),
        ],
    );
    let post = seen(&hooks, "post-deploy");
    assert_vars(&post, &common);
    assert_vars(
        &post,
        &[
            ("TEMPS_HOOK", "post-deploy"),
            ("TEMPS_DEPLOYMENT_ID", &id(&v1)),
            ("TEMPS_IMAGE", WEB_V1),
            ("TEMPS_OUTCOME", "deployed"),
        ],
    );
    let v2 = deploy(&env, &web, WEB_V2, &[]);
    seen(&hooks, "pre-deploy");
    seen(&hooks, "post-deploy");

    let back = env.json(&["rollback", &id(&v1), "--yes", "--reason", "v2 is broken"]);
    let rollback = [
        ("TEMPS_IMAGE", WEB_V1),
        ("TEMPS_ROLLED_BACK_FROM_ID", &id(&v2)),
        ("TEMPS_ROLLED_BACK_TO_ID", &id(&v1)),
        ("TEMPS_REASON", "v2 is broken"),
    ];
    let pre = seen(&hooks, "pre-rollback");
    assert_vars(&pre, &common);
    assert_vars(&pre, &rollback);
    assert_vars(
        &pre,
        &[("TEMPS_DEPLOYMENT_ID", ""), ("TEMPS_OUTCOME", "pending")],
    );
    let post = seen(&hooks, "post-rollback");
    assert_vars(&post, &common);
    assert_vars(&post, &rollback);
    assert_vars(
        &post,
        &[
            ("TEMPS_DEPLOYMENT_ID", &id(&back)),
            ("TEMPS_OUTCOME", "deployed"),
        ],
    );

    // Rolled back: a deploy is recorded `ready`, and the post-deploy hook says so.
    let ready = deploy(&env, &web, WEB_V2, &[]);
    assert_eq!(ready["status"], "ready");
    seen(&hooks, "pre-deploy");
    assert_vars(
        &seen(&hooks, "post-deploy"),
        &[
            ("TEMPS_DEPLOYMENT_ID", &id(&ready)),
            ("TEMPS_OUTCOME", "ready"),
        ],
    );

    let promoted = env.json(&["promote", &id(&ready), "--yes"]);
    let pre = seen(&hooks, "pre-promote");
    assert_vars(&pre, &common);
    assert_vars(
        &pre,
        &[
            ("TEMPS_PROMOTED_ID", &id(&ready)),
            ("TEMPS_IMAGE", WEB_V2),
            ("TEMPS_OUTCOME", "pending"),
        ],
    );
    assert_vars(
        &seen(&hooks, "post-promote"),
        &[
            ("TEMPS_PROMOTED_ID", &id(&ready)),
            ("TEMPS_DEPLOYMENT_ID", &id(&promoted)),
            ("TEMPS_OUTCOME", "deployed"),
        ],
    );
    assert_eq!(serving(port.parse().unwrap()).as_deref(), Some("v2"));
    for name in HOOKS {
        assert!(
            !hooks.join(format!("{name}.env")).exists(),
            "{name} ran more often than its operation"
        );
    }
}

#[test]
fn a_failing_pre_rollback_hook_stops_the_rollback() {
    require_docker!();
    let env = TestEnv::new();
    let (web, hooks) = project_with_hooks(&env, "hook-pre-rb");
    let port = free_port();
    let v1 = deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]);
    deploy(&env, &web, WEB_V2, &[]);
    write_hook(
        &hooks,
        "pre-rollback",
        "echo 'change freeze until 14:00'\necho 'ask in #ops' >&2\nexit 3",
        true,
    );
    let before = history(&env, &web);

    env.run(&["rollback", &id(&v1), "--yes"])
        .code(4)
        .stderr_has("pre-rollback")
        .stderr_has("change freeze until 14:00")
        .stderr_has("ask in #ops");
    let json = env
        .run(&["--output", "json", "rollback", &id(&v1), "--yes"])
        .code(4);
    // Refused before anything was recorded: no document to print (README, "JSON output").
    assert_eq!(json.stdout, "", "a refused rollback printed a document");
    assert!(json.stderr.contains("change freeze"), "{}", json.stderr);

    assert_eq!(
        history(&env, &web),
        before,
        "a refused rollback changed the history"
    );
    assert_eq!(serving(port).as_deref(), Some("v2"));
    let project = env.json(&["project", "show", &web]);
    assert_eq!(project["environments"][0]["state"], "normal", "{project}");
}

#[test]
fn a_failing_pre_deploy_hook_stops_the_deploy() {
    require_docker!();
    let env = TestEnv::new();
    let (web, hooks) = project_with_hooks(&env, "hook-pre-dep");
    let port = free_port();
    deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]);
    write_hook(
        &hooks,
        "pre-deploy",
        "echo 'tests are red on main'\nexit 3",
        true,
    );
    let before = history(&env, &web);
    let label = format!("label=dev.temps.project={web}");
    let containers = || docker(&["ps", "-aq", "--filter", &label]).stdout;
    let count = containers().lines().count();

    env.run(&["deploy", &web, "--image", WEB_V2])
        .code(4)
        .stderr_has("pre-deploy")
        .stderr_has("tests are red on main");
    assert_eq!(
        history(&env, &web),
        before,
        "a refused deploy changed the history"
    );
    assert_eq!(
        containers().lines().count(),
        count,
        "a refused deploy made a container"
    );
    let pins = docker(&["images", "-q", &format!("temps/{web}")]).stdout;
    assert_eq!(
        pins.lines().count(),
        1,
        "a refused deploy pinned its image:\n{pins}"
    );
    assert_eq!(serving(port).as_deref(), Some("v1"));

    // Once the hook passes, the same deploy goes ahead: the refusal left no lock behind.
    write_hook(&hooks, "pre-deploy", "exit 0", true);
    deploy(&env, &web, WEB_V2, &[]);
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

#[test]
fn post_hooks_see_a_failed_deploy_and_the_exit_code_stays() {
    require_docker!();
    let env = TestEnv::new();
    let (web, hooks) = project_with_hooks(&env, "hook-failed");
    let port = free_port();
    deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]);
    write_hook(&hooks, "post-deploy", &format!("{DUMP}\nexit 1"), true);

    let run = env
        .run(&["deploy", &web, "--image", CRASH])
        .code(5)
        .stderr_has("post-deploy");
    let failed = history(&env, &web)[0].clone();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_vars(
        &seen(&hooks, "post-deploy"),
        &[
            ("TEMPS_OUTCOME", "failed"),
            ("TEMPS_DEPLOYMENT_ID", &id(&failed)),
            ("TEMPS_IMAGE", CRASH),
        ],
    );
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn a_failing_post_hook_warns_and_keeps_the_swap() {
    require_docker!();
    let env = TestEnv::new();
    let (web, hooks) = project_with_hooks(&env, "hook-post");
    let port = free_port();
    let v1 = deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]);
    for name in ["post-deploy", "post-rollback", "post-promote"] {
        write_hook(&hooks, name, "echo 'chat is down' >&2\nexit 1", true);
    }

    let run = env
        .run(&["deploy", &web, "--image", WEB_V2])
        .code(0)
        .stderr_has("warning:")
        .stderr_has("post-deploy")
        .stderr_has("chat is down");
    assert!(run.stdout.contains("deployed #"), "{}", run.stdout);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    let v2 = history(&env, &web)[0].clone();
    assert_eq!(v2["status"], "deployed", "{v2}");

    let back = env
        .run(&["--output", "json", "rollback", &id(&v1), "--yes"])
        .code(0);
    assert!(back.stderr.contains("post-rollback"), "{}", back.stderr);
    assert_eq!(back.json()["status"], "deployed");
    assert_eq!(serving(port).as_deref(), Some("v1"));

    env.run(&["promote", &id(&v2), "--yes"])
        .code(0)
        .stderr_has("post-promote");
    assert_eq!(serving(port).as_deref(), Some("v2"));
    assert_eq!(history(&env, &web)[0]["status"], "deployed");
}

/// True when the process is gone (or a zombie nobody reaped yet).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn pid_in(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()))
        .trim()
        .parse()
        .expect("a pid")
}

/// Stop a process a test's hook started, if it still runs.
fn stop(pid: i32) {
    if !gone(pid) {
        // SAFETY: a plain signal to a process this test started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_its_children() {
    require_docker!();
    let env = TestEnv::new();
    let (web, hooks) = project_with_hooks(&env, "hook-timeout");
    env.ok(&["project", "update", &web, "--hook-timeout", "1s"]);
    let port = free_port();
    let v1 = deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]);
    deploy(&env, &web, WEB_V2, &[]);
    write_hook(
        &hooks,
        "pre-rollback",
        "echo $$ > hook.pid\nsleep 300 &\necho $! > child.pid\necho 'waiting for approval'\nwait",
        true,
    );
    let before = history(&env, &web);

    let run = run_bounded(&env, &["rollback", &id(&v1), "--yes"]);
    let (hook, child) = (
        pid_in(&hooks.join("hook.pid")),
        pid_in(&hooks.join("child.pid")),
    );
    // Killed processes disappear promptly; this only bounds a wait that should not be needed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(gone(hook) && gone(child)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (hook_gone, child_gone) = (gone(hook), gone(child));
    stop(child);
    stop(hook);
    let run = run
        .expect("temps still ran long after the 1s hook timeout")
        .code(4)
        .stderr_has("pre-rollback")
        .stderr_has("waiting for approval");
    assert!(
        run.stderr.contains("1s"),
        "the timeout is not named: {}",
        run.stderr
    );
    assert!(hook_gone, "the hook still runs after its timeout");
    assert!(
        child_gone,
        "what the hook started still runs after its timeout"
    );
    assert_eq!(
        history(&env, &web),
        before,
        "a refused rollback changed the history"
    );
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

/// A static project with a hooks folder: hooks without Docker.
fn site_with_hooks(env: &TestEnv, hint: &str) -> (String, std::path::PathBuf, String) {
    let site = env.project_name(hint);
    let hooks = env.dir.path().join("hooks");
    std::fs::create_dir_all(&hooks).expect("hooks folder");
    env.ok(&[
        "project",
        "create",
        &site,
        "--preset",
        "static",
        "--hooks",
        &hooks.to_string_lossy(),
    ]);
    let dist = env.dir.path().join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    std::fs::write(dist.join("index.html"), "hi\n").expect("index");
    (site, hooks, dist.to_string_lossy().into_owned())
}

#[test]
fn static_hooks_are_told_the_release_folder() {
    let env = TestEnv::new();
    let (site, hooks, dist) = site_with_hooks(&env, "hook-static");
    for name in HOOKS {
        write_hook(&hooks, name, DUMP, true);
    }
    let first = env.json(&["deploy", &site, "--dir", &dist]);
    let pre = seen(&hooks, "pre-deploy");
    assert_vars(
        &pre,
        &[("TEMPS_PROJECT", &site), ("TEMPS_OUTCOME", "pending")],
    );
    let release = first["artifact"].as_str().expect("artifact");
    let second = env.json(&["deploy", &site, "--dir", &dist]);
    seen(&hooks, "pre-deploy");
    let post_deploy = seen(&hooks, "post-deploy");
    let back = env.json(&["rollback", &id(&first), "--yes"]);
    let rollback = [
        ("TEMPS_IMAGE", release),
        ("TEMPS_ROLLED_BACK_FROM_ID", &id(&second)),
        ("TEMPS_ROLLED_BACK_TO_ID", &id(&first)),
    ];
    assert_vars(&seen(&hooks, "pre-rollback"), &rollback);
    let post = seen(&hooks, "post-rollback");
    assert_vars(&post, &rollback);
    assert_vars(
        &post,
        &[
            ("TEMPS_DEPLOYMENT_ID", &id(&back)),
            ("TEMPS_OUTCOME", "deployed"),
        ],
    );
    // README: TEMPS_IMAGE is "the image reference (static: the release folder)".
    assert_vars(
        &post_deploy,
        &[
            ("TEMPS_DEPLOYMENT_ID", &id(&second)),
            ("TEMPS_OUTCOME", "deployed"),
            (
                "TEMPS_IMAGE",
                second["artifact"].as_str().expect("artifact"),
            ),
        ],
    );
}

#[test]
fn a_hook_that_is_not_executable_counts_as_failing() {
    let env = TestEnv::new();
    let (site, hooks, dist) = site_with_hooks(&env, "hook-noexec");
    let hook = write_hook(&hooks, "pre-deploy", "exit 0", false);
    env.run(&["deploy", &site, "--dir", &dist])
        .code(4)
        .stderr_has("pre-deploy");
    assert_eq!(
        history(&env, &site),
        Vec::<Value>::new(),
        "a refused deploy was recorded"
    );
    std::fs::remove_file(&hook).expect("remove hook");

    write_hook(&hooks, "post-deploy", "exit 0", false);
    let run = env
        .run(&["deploy", &site, "--dir", &dist])
        .code(0)
        .stderr_has("warning:")
        .stderr_has("post-deploy");
    assert!(run.stdout.contains("deployed #"), "{}", run.stdout);
    assert_eq!(history(&env, &site)[0]["status"], "deployed");
}

#[test]
fn the_hooks_folder_is_set_checked_and_unset() {
    let env = TestEnv::new();
    let (site, hooks, dist) = site_with_hooks(&env, "hook-dir");
    let shown = env.json(&["project", "show", &site]);
    assert_eq!(shown["hooks"], hooks.to_string_lossy().as_ref(), "{shown}");

    let missing = env.dir.path().join("no-such-folder");
    env.run(&[
        "project",
        "update",
        &site,
        "--hooks",
        &missing.to_string_lossy(),
    ])
    .code(2)
    .stderr_has("no-such-folder");
    assert_eq!(
        env.json(&["project", "show", &site])["hooks"],
        shown["hooks"]
    );

    let updated = env.json(&["project", "update", &site, "--hook-timeout", "5s"]);
    assert_eq!(updated["hook_timeout"], "5s", "{updated}");
    assert_eq!(updated["hooks"], shown["hooks"], "{updated}");

    write_hook(&hooks, "pre-deploy", "echo no; exit 1", true);
    env.run(&["deploy", &site, "--dir", &dist]).code(4);
    let unset = env.json(&["project", "update", &site, "--hooks", ""]);
    assert!(unset["hooks"].is_null(), "{unset}");
    env.ok(&["deploy", &site, "--dir", &dist]);
}

#[test]
fn a_hook_that_leaves_a_process_behind_does_not_hold_temps_past_its_timeout() {
    let env = TestEnv::new();
    let (site, hooks, dist) = site_with_hooks(&env, "hook-bg");
    env.ok(&["project", "update", &site, "--hook-timeout", "1s"]);
    // A notifier started in the background, still holding the hook's output.
    write_hook(
        &hooks,
        "post-deploy",
        "sleep 120 &\necho $! > bg.pid\necho notified",
        true,
    );
    let run = run_bounded(&env, &["deploy", &site, "--dir", &dist]);
    let bg = hooks.join("bg.pid");
    if bg.exists() {
        stop(pid_in(&bg));
    }
    let run = run.unwrap_or_else(|| {
        panic!(
            "temps was still waiting for the post-deploy hook's background process long after \
             the 1s hook timeout"
        )
    });
    run.code(0).stdout_has("deployed #");
}

/// `temps ARGS`, killed when it still runs after a bound far beyond any hook timeout in
/// these tests: `None` then. It only stops a hung temps; it is not a timing assertion.
fn run_bounded(env: &TestEnv, args: &[&str]) -> Option<Run> {
    let out = env.dir.path().join("bounded.out");
    let err = env.dir.path().join("bounded.err");
    let mut temps = env
        .cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("start temps");
    let deadline = Instant::now() + Duration::from_secs(45);
    let status = loop {
        if let Some(status) = temps.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = temps.kill();
            let _ = temps.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    status.map(|status| Run {
        status: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    })
}
