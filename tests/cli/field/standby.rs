//! What temps says of the version a switch replaced, in proxy mode: kept warm until the
//! time its record holds, or stopped; and a version the watch rolled back from is no
//! standby at all: it finishes its requests and stops.

use serde_json::Value;

use crate::common::*;
use crate::proxy::harness::Proxy;
use crate::require_docker;

/// `HH:MM UTC` of an RFC 3339 time, as temps shows a time of day.
fn time_of_day(rfc3339: &Value) -> String {
    let text = rfc3339.as_str().unwrap_or_default();
    format!("{} UTC", text.get(11..16).unwrap_or_default())
}

#[test]
fn the_replaced_version_is_said_to_be_warm_until_its_record_says_and_a_bad_one_is_not_kept() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("standbywords");
    let proxy = Proxy::start(&env);
    proxy.applied(0);
    let listen = format!("127.0.0.1:{}", free_port());
    env.ok(&[
        "deploy", &web, "--image", WEB_V1, "--proxy", &listen, "--drain", "1s",
    ]); // #1
    env.ok(&["deploy", &web, "--image", WEB_V2]); // #2

    // A warm rollback: #2 keeps running, and the message says until when.
    let rollback = env.ok(&["rollback", "1", "--yes"]); // #3
    let two = env.json(&["show", "2"]);
    let until = time_of_day(&two["warm_until"]);
    let rollback = rollback.stderr_has(&format!("#2 is kept warm until {until}"));
    assert!(!rollback.stderr.contains("stopped"), "{}", rollback.stderr);
    env.ok(&["status", &web]).stdout_has(&format!(
        "temps-{web}-production-2  running  warm standby until {until}"
    ));
    let promote = env.ok(&["promote", "2", "--yes"]); // #4
    let three = env.json(&["show", "3"]);
    promote.stderr_has(&format!(
        "#3 is kept warm until {}",
        time_of_day(&three["warm_until"])
    ));

    // A version the watch rolls back from only drains, then stops: never "warm".
    env.ok(&["env", "set", &web, "SOUR_AFTER=2"]);
    let session = env
        .terminal(
            &["deploy", &web, "--image", SOURING, "--watch", "60s"],
            &[PtyStep::Expect("went bad")],
        )
        .code(5);
    let watched = env.json(&["show", "5"]);
    assert_eq!(watched["status"], "failed", "{watched:#}");
    assert_eq!(watched["warm_until"], Value::Null, "{watched:#}");
    assert!(
        !session.text.contains("#5 stays warm"),
        "the spinner kept #5 warm:\n{}",
        session.text
    );
    let container = format!("temps-{web}-production-5");
    assert_eq!(
        docker_inspect(&container, "{{.State.Running}}").as_deref(),
        Some("false"),
        "{container} still runs"
    );
    let status = env.ok(&["status", &web]).stdout;
    let line = status
        .lines()
        .find(|l| l.contains(&container))
        .unwrap_or_default();
    assert!(!line.contains("warm"), "{status}");
}
