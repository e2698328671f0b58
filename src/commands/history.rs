//! `temps list` and `temps show`: the history.
//!
//! `list` streams: rows are printed as SQLite yields them, in fixed columns, so
//! `--limit 0` over a long history holds one row at a time.

use std::fmt::Write as _;

use anyhow::Result;

use super::{block_on, Context};
use crate::cli::{ListArgs, ShowArgs};
use crate::clock::{ago, now_ms, rfc3339, time_of_day};
use crate::commands::deploy::what;
use crate::error::Failure;
use crate::ops::gate::Availability;
use crate::store::{Deployment, Status};

pub fn cmd_list(ctx: &Context, args: ListArgs) -> Result<()> {
    let store = ctx.store()?;
    let project = store.project(&args.project)?;
    let environment = match &args.environment {
        Some(name) => Some(store.environment(project.id, name)?.ok_or_else(|| {
            Failure::not_found(format!(
                "project `{}` has no environment `{name}`",
                project.name
            ))
            .hint(format!(
                "`temps project show {}` lists its environments",
                project.name
            ))
        })?),
        None => None,
    };
    let env_id = environment.as_ref().map(|e| e.id);
    let out = ctx.out;
    let availability = block_on(Availability::probe(&project, &store))??;
    if out.is_json() {
        let mut stream = out.stream();
        let mut first = true;
        stream.write(b"[");
        store.each_deployment(project.id, env_id, args.limit, |d| {
            stream.write(if first { b"\n" } else { b",\n" });
            first = false;
            // The record as every command prints it, plus one field of `list`'s own.
            let mut text = serde_json::to_string(&d)?;
            text.pop();
            let can = availability.can_roll_back(&d);
            text.push_str(match can {
                Some(true) => ",\"can_roll_back\":true}",
                Some(false) => ",\"can_roll_back\":false}",
                None => ",\"can_roll_back\":null}",
            });
            stream.write(text.as_bytes());
            Ok(())
        })?;
        stream.write(if first { b"]\n" } else { b"\n]\n" });
        return Ok(());
    }
    if let Some(env) = environment
        .as_ref()
        .filter(|e| e.state == crate::store::EnvState::RolledBack)
    {
        out.note(out.loud(&format!(
            "{} is ROLLED BACK: new deploys are recorded `ready` until `temps promote`",
            env.name
        )));
    }
    let now = now_ms();
    let show_env = environment.is_none() && store.environments(project.id)?.len() > 1;
    let mut columns: Option<Columns> = None;
    let mut count = 0u64;
    let mut stream = out.stream();
    store.each_deployment(project.id, env_id, args.limit, |d| {
        // Newest first: the first id is the widest.
        let columns = columns.get_or_insert_with(|| {
            let columns = Columns::new(d.id, show_env);
            stream.line(&out.bold(&columns.header()));
            columns
        });
        count += 1;
        stream.line(&columns.row(&d, now, ctx, &availability));
        Ok(())
    })?;
    drop(stream);
    if count == 0 {
        out.note(format!(
            "no deployments yet: `temps deploy {}` makes the first",
            project.name
        ));
    }
    Ok(())
}

/// The widths of `list`'s columns. On a terminal the row fits its width (80 columns at
/// least), so NOTE gets what is left; into a pipe the row fits 80 columns.
struct Columns {
    id: usize,
    env: Option<usize>,
    image: usize,
    width: usize,
}

const WIDTH: usize = 80;
const STATUS: usize = 9;
const CREATED: usize = 8;
const BY: usize = 8;

impl Columns {
    fn new(widest_id: i64, show_env: bool) -> Columns {
        Columns {
            id: widest_id.to_string().len().max(2),
            env: show_env.then_some(8),
            image: if show_env { 18 } else { 22 },
            width: match console::Term::stdout().size_checked() {
                Some((_, columns)) if console::Term::stdout().is_term() => {
                    (columns as usize).max(WIDTH)
                }
                _ => WIDTH,
            },
        }
    }

    /// What is left for NOTE.
    fn note(&self) -> usize {
        let used = self.id + STATUS + self.env.map_or(0, |e| e + 1) + self.image + CREATED + BY + 5;
        self.width.saturating_sub(used).max(10)
    }

    fn header(&self) -> String {
        let mut header = format!("{:<id$} {:<STATUS$} ", "ID", "STATUS", id = self.id);
        if let Some(env) = self.env {
            let _ = write!(header, "{:<env$} ", "ENV");
        }
        let _ = write!(
            header,
            "{:<image$} {:<CREATED$} {:<BY$} NOTE",
            "IMAGE",
            "CREATED",
            "BY",
            image = self.image
        );
        header
    }

    fn row(&self, d: &Deployment, now: i64, ctx: &Context, availability: &Availability) -> String {
        let status = format!("{:<STATUS$}", d.status.as_str());
        let status = match d.status {
            Status::Deployed => ctx.out.good(&status),
            Status::Failed | Status::Cancelled => ctx.out.bad(&status),
            Status::Ready => ctx.out.loud(&status),
            _ => status,
        };
        let mut line = format!("{:<id$} {status} ", d.id, id = self.id);
        if let Some(env) = self.env {
            let _ = write!(line, "{:<env$} ", clip(&d.environment, env));
        }
        let mut note = d.note();
        if let Some(until) = d.warm_until.filter(|_| d.is_warm(now)) {
            let warm = format!("warm until {}", time_of_day(until));
            note = if note.is_empty() {
                warm
            } else {
                format!("{warm}, {note}")
            };
        }
        if let Some(gone) = availability.gone(d) {
            note = if note.is_empty() {
                gone.to_string()
            } else {
                format!("{note}, {gone}")
            };
        }
        if let (Status::Failed | Status::Cancelled, Some(error), true) =
            (d.status, &d.error, note.is_empty())
        {
            note = error.lines().next().unwrap_or_default().to_string();
        }
        let _ = write!(
            line,
            "{:<image$} {:<CREATED$} {:<BY$} {}",
            clip(&what(d), self.image),
            ago(d.created_at, now),
            clip(&d.created_by, BY),
            clip(&note, self.note()),
            image = self.image
        );
        line.trim_end().to_string()
    }
}

/// At most `width` characters, with `…` when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

pub fn cmd_show(ctx: &Context, args: ShowArgs) -> Result<()> {
    let store = ctx.store()?;
    let d = store.deployment(args.deployment)?.ok_or_else(|| {
        Failure::not_found(format!("deployment #{} does not exist", args.deployment))
            .hint("`temps list PROJECT` shows the deployments and their ids")
    })?;
    if ctx.out.is_json() {
        return ctx.out.json(&d);
    }
    let out = ctx.out;
    let note = d.note();
    out.line(format!(
        "{}  {}/{}  {}{}",
        out.bold(&format!("#{}", d.id)),
        d.project,
        d.environment,
        d.status,
        if note.is_empty() {
            String::new()
        } else {
            format!("  ({note})")
        }
    ));
    let field = |name: &str, value: String| out.line(format!("  {name:<13}{value}"));
    if let Some(image) = &d.image {
        field("image", image.clone());
    }
    if let Some(id) = &d.image_id {
        field("image id", id.clone());
    }
    if let Some(artifact) = &d.artifact {
        field("release", artifact.clone());
    }
    let now = now_ms();
    field(
        "created",
        format!(
            "{} ({}) by {}",
            rfc3339(d.created_at),
            ago(d.created_at, now),
            d.created_by
        ),
    );
    if let Some(finished) = d.finished_at {
        field(
            "finished",
            format!(
                "{} (took {}s)",
                rfc3339(finished),
                (finished - d.created_at) as f64 / 1000.0
            ),
        );
    }
    if let Some(from) = d.rolled_back_from_id {
        field("rolled back", format!("from #{from}"));
    }
    if let Some(reason) = &d.reason {
        field("reason", reason.clone());
    }
    if !d.containers.is_empty() {
        field("containers", d.containers.join(", "));
    }
    if let Some(until) = d.warm_until {
        field(
            "warm until",
            if d.is_warm(now) {
                rfc3339(until)
            } else {
                format!("{} (its standby has ended)", rfc3339(until))
            },
        );
    }
    if let Some(error) = &d.error {
        field("error", error.replace('\n', "\n               "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clips_long_text() {
        assert_eq!(clip("web:1.2", 10), "web:1.2");
        assert_eq!(clip("registry.example/web:1.2", 10), "registry.…");
    }
}
