//! Hooks for runbooks: executables in the project's hooks folder, run around deploy,
//! rollback and promote with what is happening in `TEMPS_*` variables.
//!
//! A `pre-` hook runs after validation and before anything changes; if it fails (non-zero
//! exit, or its timeout) the operation stops with exit 4 and its output. A `post-` hook
//! runs after the operation, whatever the outcome (`TEMPS_OUTCOME`); if it fails it is
//! reported and changes nothing: a healthy swap is never undone by a chat webhook.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::clock::format_duration;
use crate::error::Failure;
use crate::progress::Progress;
use crate::store::Project;

/// What a hook is told, as `TEMPS_*` environment variables.
#[derive(Debug, Default, Clone)]
pub struct HookEnv {
    pub project: String,
    pub environment: String,
    /// Not yet known to `pre-` hooks of a deploy (nothing is recorded before they pass).
    pub deployment_id: Option<i64>,
    pub image: Option<String>,
    pub rolled_back_from_id: Option<i64>,
    pub rolled_back_to_id: Option<i64>,
    pub promoted_id: Option<i64>,
    pub reason: Option<String>,
    pub user: String,
}

/// Run `pre-<action>`; a failure refuses the operation (exit 4).
pub fn pre(project: &Project, action: &str, env: &HookEnv, progress: &dyn Progress) -> Result<()> {
    let name = format!("pre-{action}");
    match run(project, &name, env, "pending", progress)? {
        None | Some(Ok(_)) => Ok(()),
        Some(Err((why, output))) => {
            let mut message = format!("hook `{name}` {why}, so the {action} was not started");
            if !output.trim().is_empty() {
                message.push_str(":\n");
                message.push_str(output.trim_end());
            }
            Err(Failure::refused(message)
                .hint(format!(
                    "nothing was changed; fix the hook or its cause in `{}`, then try again",
                    project.hooks_dir.as_deref().unwrap_or_default()
                ))
                .into())
        }
    }
}

/// What `TEMPS_OUTCOME` says of an operation that succeeded.
pub trait Outcome {
    fn outcome(&self) -> &'static str;
}

impl Outcome for crate::store::Deployment {
    fn outcome(&self) -> &'static str {
        "deployed"
    }
}

/// Run `post-<action>` with how `result` went, and hand `result` back.
pub fn post<T: Outcome>(
    project: &Project,
    action: &str,
    env: &HookEnv,
    result: Result<T>,
    progress: &dyn Progress,
) -> Result<T> {
    let outcome = match &result {
        Ok(done) => done.outcome(),
        Err(err) => outcome_of_error(err),
    };
    post_outcome(project, action, env, outcome, progress);
    result
}

/// Run `post-<action>` with the outcome; a failure is only reported.
fn post_outcome(
    project: &Project,
    action: &str,
    env: &HookEnv,
    outcome: &str,
    progress: &dyn Progress,
) {
    let name = format!("post-{action}");
    match run(project, &name, env, outcome, progress) {
        Ok(None | Some(Ok(_))) => {}
        Ok(Some(Err((why, output)))) => {
            let output = output.trim_end();
            let shown = if output.is_empty() {
                String::new()
            } else {
                format!(":\n{output}")
            };
            progress.warn(&format!(
                "hook `{name}` {why}; the {action} itself is done ({outcome}){shown}"
            ));
        }
        Err(err) => progress.warn(&format!("hook `{name}` could not run: {err:#}")),
    }
}

/// `TEMPS_OUTCOME` for an operation that ended in `err`.
fn outcome_of_error(err: &anyhow::Error) -> &'static str {
    match crate::error::exit_status_of(err) {
        crate::error::ExitStatus::Interrupted => "cancelled",
        _ => "failed",
    }
}

type HookResult = Result<String, (String, String)>;

/// `None` when the project has no such hook.
fn run(
    project: &Project,
    name: &str,
    env: &HookEnv,
    outcome: &str,
    progress: &dyn Progress,
) -> Result<Option<HookResult>> {
    let Some(dir) = project.hooks_dir.as_deref() else {
        return Ok(None);
    };
    let path = Path::new(dir).join(name);
    let Ok(meta) = path.metadata() else {
        return Ok(None);
    };
    use std::os::unix::fs::PermissionsExt;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Ok(Some(Err((
            format!("is not an executable file (`chmod +x {}`)", path.display()),
            String::new(),
        ))));
    }
    progress.step(&format!("running hook {name}"));
    let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut command = Command::new(&path);
    command
        .current_dir(dir)
        .env("TEMPS_HOOK", name)
        .env("TEMPS_PROJECT", &env.project)
        .env("TEMPS_ENVIRONMENT", &env.environment)
        .env("TEMPS_DEPLOYMENT_ID", id(env.deployment_id))
        .env("TEMPS_IMAGE", env.image.as_deref().unwrap_or_default())
        .env("TEMPS_ROLLED_BACK_FROM_ID", id(env.rolled_back_from_id))
        .env("TEMPS_ROLLED_BACK_TO_ID", id(env.rolled_back_to_id))
        .env("TEMPS_PROMOTED_ID", id(env.promoted_id))
        .env("TEMPS_REASON", env.reason.as_deref().unwrap_or_default())
        .env("TEMPS_USER", &env.user)
        .env("TEMPS_OUTCOME", outcome)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting hook `{}`: {e}", path.display()))?;
    // Read both pipes on threads, so a chatty hook never blocks on a full pipe.
    let (sender, output_parts) = std::sync::mpsc::channel::<Vec<u8>>();
    for pipe in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut pipe = pipe;
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            let _ = sender.send(text);
        });
    }
    drop(sender);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= project.hook_timeout {
            // SAFETY: signalling the hook's own process group touches no memory.
            unsafe {
                libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
            }
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // A process the hook left behind may hold its pipes open: wait for them only briefly.
    let mut output = String::new();
    let until = Instant::now() + Duration::from_millis(200);
    while let Ok(part) = output_parts.recv_timeout(until.saturating_duration_since(Instant::now()))
    {
        output.push_str(&String::from_utf8_lossy(&part));
    }
    Ok(Some(match status {
        Some(status) if status.success() => Ok(output),
        Some(status) => Err((
            match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            },
            output,
        )),
        None => Err((
            format!(
                "ran longer than {} and was killed",
                format_duration(project.hook_timeout)
            ),
            output,
        )),
    }))
}
