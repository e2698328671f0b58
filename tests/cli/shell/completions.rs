//! Completion scripts: `temps completions SHELL` prints the committed script, and a real
//! bash that sources it completes `temps roll<TAB>` to `temps rollback`.

use std::process::Command;

use super::*;

/// Each shell `temps completions` knows, and its committed script under `completions/`.
const SCRIPTS: [(&str, &str); 5] = [
    ("bash", "temps.bash"),
    ("zsh", "_temps"),
    ("fish", "temps.fish"),
    ("elvish", "temps.elv"),
    ("powershell", "_temps.ps1"),
];

#[test]
fn completions_prints_the_committed_script_for_each_shell() {
    let env = TestEnv::new();
    for (shell, file) in SCRIPTS {
        let path = repo().join("completions").join(file);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is missing: {e}", path.display()));
        let printed = env.ok(&["completions", shell]);
        assert!(
            printed.stdout == committed,
            "`temps completions {shell}` differs from {}; run `cargo run --example generate`",
            path.display()
        );
        assert!(
            printed.stdout.contains("rollback"),
            "the {shell} script does not know `rollback`"
        );
        assert_eq!(
            printed.stderr, "",
            "`temps completions {shell}` wrote on stderr"
        );
    }
    let mut committed: Vec<String> = std::fs::read_dir(repo().join("completions"))
        .expect("completions/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    let mut expected: Vec<String> = SCRIPTS.iter().map(|(_, f)| f.to_string()).collect();
    expected.sort();
    assert_eq!(committed, expected, "completions/ holds other files");

    env.run(&["completions", "tcsh"]).code(2).stderr_has("tcsh");
}

/// What bash's completion function answers for the words of a command line (the last
/// word is the one being completed), after sourcing `temps completions bash`.
fn bash_completes(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let temps = env.cmd();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        r#"source <("$TEMPS" completions bash) || exit 90
complete -p temps || exit 91
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
_temps temps "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}" || exit 92
printf 'REPLY:%s\n' "${{COMPREPLY[@]}}"
"#,
        words = quoted.join(" "),
        cword = words.len() - 1
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("TEMPS", temps.get_program())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bash could not complete {words:?} (exit {:?}):\n{stdout}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("complete ")
            && l.contains("-F _temps")
            && l.ends_with(" temps")),
        "`complete -p temps` does not show `_temps` registered:\n{stdout}"
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("REPLY:"))
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags_from_the_sourced_script() {
    if !have_tool("bash", "--version") {
        return;
    }
    let env = TestEnv::new();
    assert_eq!(bash_completes(&env, &["temps", "roll"]), ["rollback"]);
    assert_eq!(
        bash_completes(&env, &["temps", "project", "cr"]),
        ["create"]
    );
    assert_eq!(
        bash_completes(&env, &["temps", "rollback", "--dr"]),
        ["--dry-run"]
    );
    assert_eq!(
        bash_completes(&env, &["temps", "prune", "web", "--ke"]),
        ["--keep"]
    );
    let shells = bash_completes(&env, &["temps", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(
            shells.iter().any(|s| s == shell),
            "no {shell} in {shells:?}"
        );
    }
    let all = bash_completes(&env, &["temps", ""]);
    for command in [
        "project", "deploy", "list", "rollback", "promote", "prune", "env",
    ] {
        assert!(all.iter().any(|c| c == command), "no {command} in {all:?}");
    }
}

#[test]
fn interactive_bash_completes_temps_roll_tab() {
    if !have_tool("bash", "--version") || !have_tool("python3", "--version") {
        return;
    }
    let env = TestEnv::new();
    let rc = env.dir.path().join("bashrc");
    std::fs::write(&rc, "PS1='READY> '\nbind 'set bell-style none'\n").expect("bashrc");
    let script = repo().join("completions/temps.bash");
    let source = format!("source '{}'\\r", script.display());
    let out = Command::new("python3")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("TERM", "xterm")
        .env("INPUTRC", "/dev/null")
        .arg(repo().join("tests/pty.py"))
        .args(["--timeout", "30", "--expect", "READY> ", "--send", &source])
        .args(["--expect", "READY> ", "--send", "complete -p temps\\r"])
        .args(["--expect", "-F _temps temps", "--expect", "READY> "])
        .args(["--send", "temps roll\\t", "--expect", "temps rollback "])
        .args(["--send", "\\x15exit\\r", "--"])
        .arg("bash")
        .args(["--rcfile", &rc.to_string_lossy(), "--noprofile", "-i"])
        .output()
        .expect("python3 runs tests/pty.py");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "tests/pty.py printed no report ({e}):\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        report["error"].is_null() && report["exit_code"] == 0,
        "bash on a terminal did not complete `temps roll<TAB>`: {} (exit {})\n--- terminal\n{}",
        report["error"],
        report["exit_code"],
        report["text"].as_str().unwrap_or_default()
    );
}
