//! The questions a rollback asks on a terminal: Ctrl-C at the `[y/N]` prompt or in the
//! picker changes nothing, says so, shows the cursor again and lets go of the
//! environment's lock (exit 130); the picker preselects only what the gate would choose
//! by itself.

use serde_json::Value;

use crate::common::*;
use crate::require_docker;

/// A project serving v2 on a published port, with v1 before it: (project, port).
fn two_versions(env: &TestEnv, hint: &str) -> (String, u16) {
    let web = env.web_project(hint);
    let port = free_port();
    env.ok(&[
        "deploy",
        &web,
        "--image",
        WEB_V1,
        "--publish",
        &port.to_string(),
    ]);
    env.ok(&["deploy", &web, "--image", WEB_V2]);
    (web, port)
}

/// What must not change when a question is not answered: the history, and the
/// container that serves (never stopped or restarted).
fn snapshot(env: &TestEnv, project: &str, serving_id: i64) -> (Value, Option<String>) {
    (
        env.history(&[project, "--limit", "0"]),
        docker_inspect(
            &format!("temps-{project}-production-{serving_id}"),
            "{{.State.Running}} {{.State.StartedAt}}",
        ),
    )
}

/// The cursor is visible once temps is done: every "hide" it sent was followed by a
/// "show".
#[track_caller]
fn assert_cursor_shown(session: &PtyRun) {
    const HIDE: &str = "\u{1b}[?25l";
    const SHOW: &str = "\u{1b}[?25h";
    if let Some(hidden) = session.output.rfind(HIDE) {
        assert!(
            session.output[hidden..].contains(SHOW),
            "the cursor was left hidden:\n{:?}",
            session.output
        );
    }
}

#[test]
fn ctrl_c_at_the_confirmation_changes_nothing_and_lets_go_of_the_lock() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port) = two_versions(&env, "ctrlcyn");
    let before = snapshot(&env, &web, 2);
    let session = env
        .terminal(
            &["rollback", "1"],
            &[
                PtyStep::Expect("Roll back production to #1?"),
                PtyStep::Press("\x03"),
            ],
        )
        .code(130)
        .has("rollback not confirmed: nothing changed")
        .has("hint: `temps rollback 1 --dry-run`");
    assert_cursor_shown(&session);
    assert_eq!(snapshot(&env, &web, 2), before);
    assert_eq!(serving(port).as_deref(), Some("v2"));

    // The lock was let go: the next operation finds nothing to take over.
    let next = env.ok(&["rollback", "1", "--yes"]);
    assert!(
        !next.stderr.contains("took over"),
        "the lock was left behind:\n{}",
        next.stderr
    );
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn ctrl_c_in_the_picker_changes_nothing() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port) = two_versions(&env, "ctrlcpick");
    let before = snapshot(&env, &web, 2);
    let session = env
        .terminal(
            &["rollback", "--project", &web],
            &[PtyStep::Expect("#1 "), PtyStep::Press("\x03")],
        )
        .code(130)
        .has("rollback not confirmed: nothing changed")
        .has(&format!("`temps list {web}`"));
    assert_cursor_shown(&session);
    assert_eq!(snapshot(&env, &web, 2), before);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    let next = env.ok(&["rollback", "1", "--yes"]);
    assert!(!next.stderr.contains("took over"), "{}", next.stderr);
}

#[test]
fn the_picker_preselects_nothing_the_gate_would_not_choose() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port) = two_versions(&env, "nopreselect");
    env.ok(&["rollback", "1", "--yes", "--reason", "v2 is slow"]); // #3: leaves #2
                                                                   // #2 was fled, #1 runs what serves now: `--yes` refuses to choose either …
    env.run(&["rollback", "--project", &web, "--yes"])
        .code(4)
        .stderr_has("without being told which");
    // … and the picker preselects neither, saying why; a person may still choose.
    let before = snapshot(&env, &web, 3);
    let session = env
        .terminal(
            &["rollback", "--project", &web],
            &[PtyStep::Expect("#1 "), PtyStep::Press("q")],
        )
        .code(2)
        .has("none is preselected");
    assert!(
        !session.text.contains("> #"),
        "the picker preselected one:\n{}",
        session.text
    );
    assert_eq!(snapshot(&env, &web, 3), before);
    let chosen = env
        .terminal(
            &["rollback", "--project", &web],
            &[
                PtyStep::Expect("#1 "),
                PtyStep::Press("\x1b[B"),
                PtyStep::Expect("> #2"),
                PtyStep::Press("\r"),
                PtyStep::Expect("Roll back production to #2?"),
                PtyStep::Press("y"),
            ],
        )
        .code(0);
    assert!(chosen.text.contains("rolled back from"), "{}", chosen.text);
    assert_eq!(serving(port).as_deref(), Some("v2"));
}
