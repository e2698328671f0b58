//! The generated files, committed under `completions/` and `man/`: shell completion
//! scripts and man pages, made from the clap definition in `cli.rs`.
//!
//! `cargo run --example generate` rewrites them; a test fails, naming that command, when
//! the committed copies are stale.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use crate::cli::Cli;

pub const REGENERATE: &str = "cargo run --example generate";

/// Every generated file: its path relative to the repository, and its contents.
pub fn files() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "temps.bash"),
        (Shell::Zsh, "_temps"),
        (Shell::Fish, "temps.fish"),
        (Shell::Elvish, "temps.elv"),
        (Shell::PowerShell, "_temps.ps1"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "temps", &mut script);
        files.push((PathBuf::from("completions").join(name), script));
    }
    let mut command = Cli::command();
    command.build();
    man_pages(&command, "temps", &mut files);
    files
}

/// A page for `command` (named `name`, like `temps-project-create`) and its subcommands.
fn man_pages(command: &clap::Command, name: &str, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    let page_command = command
        .clone()
        .name(name.to_string())
        .version(env!("CARGO_PKG_VERSION"));
    let man = Man::new(page_command)
        .date("")
        .source(format!("temps {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut page);
    let _ = man.render_name_section(&mut page);
    let _ = man.render_synopsis_section(&mut page);
    let _ = man.render_description_section(&mut page);
    let _ = man.render_options_section(&mut page);
    if command.has_subcommands() {
        let _ = man.render_subcommands_section(&mut page);
    }
    if name == "temps" {
        let _ = page.write_all(behaviour().render().as_bytes());
    }
    let _ = page.write_all(common_sections().render().as_bytes());
    let _ = man.render_version_section(&mut page);
    files.push((PathBuf::from("man").join(format!("{name}.1")), page));
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        man_pages(sub, &format!("{name}-{}", sub.get_name()), files);
    }
}

fn paragraph(roff: &mut Roff, text: &str) {
    roff.control("PP", []).text([roman(text)]);
}

fn item(roff: &mut Roff, term: &str, text: &str) {
    roff.control("TP", [])
        .text([bold(term)])
        .text([roman(text)]);
}

/// What temps does that the options alone do not say: on the main page.
fn behaviour() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["ROLLING BACK"]);
    paragraph(&mut roff, "temps rollback ID validates before changing anything: the deployment exists (exit 3); it is deployed or completed and is not what the environment serves (exit 4); its image, by the image id recorded when it was deployed and never by its tag, is still on the host (exit 4, with the command to redeploy from source); Docker answers (exit 6). A static target's release folder must still exist.");
    paragraph(&mut roff, "On a terminal it then shows the environment, the current and the target deployment, the environment variables whose values differ from those the target ran with (names only), and that database migrations and external state are not reverted, and asks; the default answer is No. --yes skips the question; with no terminal and no --yes, temps refuses with exit 2. --dry-run validates and prints the plan only.");
    paragraph(&mut roff, "It records a new deployment (is_rollback, rolled_back_from_id, rolled_back_to_id) and creates the new container from the target's image id with the environment's current variables. While the serving version still serves, it starts the new version beside it in a check container (temps-PROJECT-ENV-ID-check, on a free 127.0.0.1 port) and health-checks it there: a version that cannot start or never becomes healthy fails here, with the old one never stopped. Then it stops the serving container (kept, stopped, as standby; one killed at the stop timeout because it ignored SIGTERM is named, with the fix), starts the new one and health-checks it. On success the environment is rolled back: new deploys are recorded ready and do not serve until temps promote ID. On failure the new container is removed, the previous one started again and waited for, the rollback marked failed, and temps exits 5. Ctrl-C or SIGTERM during the swap restores the same way and exits 130; during the stop of the serving container, temps first waits for the engine's stop to end, so that what it reports serving still serves afterwards.");
    paragraph(&mut roff, "temps rollback --project P with no id takes the most recent valid target (a terminal shows a picker with it preselected): it skips deployments whose version a later rollback left and those running the image that serves now, so running the same no-id rollback twice never goes forward to the version it fled. The picker and the plan say why an entry is marked (rolled back from, when, by which rollback and its reason; same image as now). When every target is marked, temps refuses with exit 4 and names them, and the picker preselects none (it and --yes ask the same gate); a marked deployment can still be chosen, or named by its id. Ctrl-C at the confirmation or in the picker changes nothing: temps says so, shows the cursor again, releases the environment's lock and exits 130.");
    roff.control("SH", ["HEALTH CHECKS"]);
    paragraph(&mut roff, "The first that applies: an HTTP GET on the project's health path (2xx or 3xx) on the published port (on the check container's loopback port while it is tried beside the serving one), or on the container's address when nothing is published; the image's Docker HEALTHCHECK; a TCP connection to the container port that stays open (Docker's proxy accepts and drops connections before the app listens); without a port, the container still running after one second. A container that exits fails the check at once, with its exit status and last output; a failed check shows the last answer (GET /healthz -> 404) and the container's last output, and says whether nothing answered within the timeout (did not answer within 30s: an app still starting, or listening on another port) or it answered badly (not healthy within 30s); the hint after a timeout gives the command again with --health-timeout twice as long. deploy, rollback and promote take --health-timeout DUR for that one operation (not remembered; temps project update --health-timeout changes it for all). The container port is the project's, else the lowest port the image EXPOSEs; temps says so when the image exposes several.");
    roff.control("SH", ["LOCKS AND RECOVERY"]);
    paragraph(&mut roff, "deploy, rollback, promote, prune, env set and env unset hold a lock on their environment; a second operation exits 7 naming the holder, or waits with --wait-lock DUR. A lock whose process is gone (same host) is taken over. Every deploy, rollback, promote and prune first reconciles the environment with Docker: it removes the containers of a deployment left pending or deploying by a killed process and marks it cancelled, stops temps containers that the history does not know as current or as a warm standby, starts the current deployment again if it was stopped, removes check containers, and in proxy mode points the route at the current containers. temps status shows the same differences as drift without changing anything.");
    roff.control("SH", ["PROXY MODE"]);
    paragraph(&mut roff, "With deploy --proxy IP:PORT, temps proxy serves the environment on that address and routes each request to the current deployment's containers, round-robin across --replicas. Swaps start the new containers first (on free 127.0.0.1 ports), health-check them, switch the route in the same transaction that marks the deployment deployed, wait until the running proxy applies it, let requests in flight on the old version finish (up to --drain, default 30s), and only then stop the old containers, unless they stay warm. The app's answer must begin within --response-timeout (default 60s, 0s for none) once the request was sent to it whole; otherwise the proxy answers 504 itself and closes that connection to the app. A failed health check never touches the route. An interrupt after the switch cannot undo it: temps says so, finishes stopping the old containers and exits 0. temps proxy runs in the foreground; on SIGTERM it stops accepting, lets requests in flight finish, and exits 0.");
    paragraph(&mut roff, "Warm standby: after a switch in proxy mode the replaced deployment's containers keep running with no traffic for --standby (default 30m; 0s stops them once drained), until its warm_until. Then the running temps proxy (within a minute) or the next operation's reconciliation stops them. A rollback or promote whose target's containers are that standby, still running, and whose variables equal the environment's current ones takes the warm path: one health probe per container, the route switch in one transaction, and the version it leaves becomes the standby; the record's containers are the ones it serves from. Otherwise, or when a warm container fails its probe, the cold path starts new containers as above. The confirmation and --dry-run say which path and why (path, path_reason); rollback and promote say until when the version they replaced is kept warm (or that it is stopped). A version the watch window rolled back from gets no standby: it finishes its requests and is stopped. Environments may share one --proxy address by --domain; one that joins an address others share by domain must name its domains or --domain '*' (that address's catch-all), else it is refused with exit 4.");
    roff
}

/// EXIT STATUS, ENVIRONMENT and FILES: on every page.
fn common_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "done"),
        ("1", "unexpected error (also: the history database is unusable, or restoring the previous version failed)"),
        ("2", "usage error, or confirmation needed and none possible, or declined"),
        ("3", "project, environment or deployment not found"),
        ("4", "refused by validation: wrong status, target is current, image or release gone"),
        ("5", "health check failed; the previous version was restored"),
        ("6", "Docker engine unreachable"),
        ("7", "the environment is busy with another operation"),
        ("130", "interrupted; the previous version was restored (Ctrl-C at a question: nothing changed)"),
    ] {
        item(&mut roff, code, meaning);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    item(&mut roff, "TEMPS_DB", "The history database, as --db.");
    item(
        &mut roff,
        "DOCKER_HOST",
        "The Docker engine to use, as the Docker CLI reads it (unix://PATH or tcp://HOST:PORT).",
    );
    item(
        &mut roff,
        "NO_COLOR",
        "When set and not empty, no colour even on a terminal.",
    );
    item(
        &mut roff,
        "XDG_DATA_HOME",
        "Where the default database lives.",
    );
    item(&mut roff, "USER", "Recorded as created_by.");
    roff.control("SH", ["FILES"]);
    item(
        &mut roff,
        "$XDG_DATA_HOME/temps/temps.db, ~/.local/share/temps/temps.db",
        "The default history database (SQLite, created 0600 in a 0700 folder).",
    );
    item(
        &mut roff,
        "static/PROJECT/releases/ID/",
        "Static releases, beside the database file.",
    );
    item(
        &mut roff,
        "static/PROJECT/ENVIRONMENT/current",
        "The symlink a web server serves for a static environment.",
    );
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_fresh() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut stale = Vec::new();
        let mut expected = std::collections::BTreeSet::new();
        for (path, contents) in files() {
            expected.insert(path.clone());
            if std::fs::read(root.join(&path)).ok().as_deref() != Some(contents.as_slice()) {
                stale.push(path.display().to_string());
            }
        }
        for dir in ["completions", "man"] {
            for entry in std::fs::read_dir(root.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let path = PathBuf::from(dir).join(entry.file_name());
                if !expected.contains(&path) {
                    stale.push(format!("{} (no longer generated)", path.display()));
                }
            }
        }
        assert!(
            stale.is_empty(),
            "generated files changed: {}; please run `{REGENERATE}`",
            stale.join(", ")
        );
    }
}
