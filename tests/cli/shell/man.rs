//! Man pages: one for `temps` and one per subcommand, each rendered by `man -l` without a
//! warning, in 80 columns, with EXIT STATUS, ENVIRONMENT and FILES sections.

use std::collections::BTreeSet;
use std::process::Command;

use super::*;

/// Every page under `man/`, by file name.
fn pages() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("man"))
        .expect("man/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// `man --warnings -l PAGE` in 80 columns: the text (overstrikes removed) and stderr.
fn render(page: &str) -> (String, String) {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(repo().join("man").join(page))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("man runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "`man -l man/{page}` failed (exit {:?}):\n{stderr}",
        out.status.code()
    );
    (plain(&String::from_utf8_lossy(&out.stdout)), stderr)
}

/// Text without terminal bold and underline (`X\bX`, `_\bX`) or escape sequences.
fn plain(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{8}' => {
                out.pop();
            }
            '\u{1b}' => {
                // CSI: ESC [ parameters final-byte.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            c => out.push(c),
        }
    }
    out.into_iter().collect()
}

/// The body of section `name` in a rendered page: the lines after its heading, up to the
/// next heading (a line that starts in column 0).
fn section<'a>(text: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let mut lines = text.lines().skip_while(|l| l.trim_end() != name);
    lines.next()?;
    Some(
        lines
            .take_while(|l| l.is_empty() || l.starts_with(' '))
            .collect(),
    )
}

#[test]
fn every_man_page_renders_without_warnings_in_80_columns() {
    if !have_tool("man", "--version") {
        return;
    }
    let pages = pages();
    assert!(pages.contains("temps.1"), "man/ lacks temps.1: {pages:?}");
    for page in &pages {
        assert!(page.ends_with(".1"), "man/{page} is not a section 1 page");
        let (text, warnings) = render(page);
        assert_eq!(warnings, "", "`man --warnings -l man/{page}` warned");
        let name = page.trim_end_matches(".1");
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert!(
            first.starts_with(&format!("{name}(1)")),
            "man/{page} is titled {first:?}"
        );
        assert!(
            section(&text, "NAME").is_some_and(|body| body.join(" ").contains(name)),
            "man/{page} has no NAME section naming {name}:\n{text}"
        );
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "man/{page} renders wider than 80 columns:\n{line}"
            );
        }
    }
    if have_tool("groff", "--version") {
        for page in &pages {
            let out = Command::new("groff")
                .args(["-man", "-ww", "-z"])
                .arg(repo().join("man").join(page))
                .output()
                .expect("groff runs");
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "`groff -man -ww -z man/{page}` warned:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn every_man_page_has_exit_status_environment_and_files() {
    if !have_tool("man", "--version") {
        return;
    }
    for page in pages() {
        let (text, _) = render(&page);
        let exit = section(&text, "EXIT STATUS")
            .unwrap_or_else(|| panic!("man/{page} has no EXIT STATUS section:\n{text}"));
        let codes: BTreeSet<&str> = exit
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
            .collect();
        for code in ["0", "1", "2", "3", "4", "5", "6", "7", "130"] {
            assert!(
                codes.contains(code),
                "man/{page}: EXIT STATUS does not explain {code}: {exit:?}"
            );
        }
        let environment = section(&text, "ENVIRONMENT")
            .unwrap_or_else(|| panic!("man/{page} has no ENVIRONMENT section:\n{text}"))
            .join("\n");
        for variable in ["TEMPS_DB", "DOCKER_HOST", "NO_COLOR"] {
            assert!(
                environment.contains(variable),
                "man/{page}: ENVIRONMENT does not name {variable}:\n{environment}"
            );
        }
        let files = section(&text, "FILES")
            .unwrap_or_else(|| panic!("man/{page} has no FILES section:\n{text}"))
            .join("\n");
        assert!(
            files.contains("temps.db"),
            "man/{page}: FILES does not name the history database:\n{files}"
        );
    }
}

/// The subcommands `temps [WORDS…] --help` lists, `help` aside.
fn subcommands(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let mut args = words.to_vec();
    args.push("--help");
    let help = env.ok(&args).stdout;
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

#[test]
fn there_is_a_man_page_per_subcommand() {
    let env = TestEnv::new();
    let mut expected = BTreeSet::from(["temps.1".to_string()]);
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(words) = queue.pop() {
        let borrowed: Vec<&str> = words.iter().map(String::as_str).collect();
        for sub in subcommands(&env, &borrowed) {
            let mut path = words.clone();
            path.push(sub);
            expected.insert(format!("temps-{}.1", path.join("-")));
            queue.push(path);
        }
    }
    for must in [
        "temps-rollback.1",
        "temps-prune.1",
        "temps-project-update.1",
        "temps-env-set.1",
    ] {
        assert!(
            expected.contains(must),
            "`temps --help` lacks the command of {must}: {expected:?}"
        );
    }
    assert_eq!(
        pages(),
        expected,
        "man/ does not hold exactly a page per command of `temps --help`"
    );
}
