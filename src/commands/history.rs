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
use crate::output::{shown, shown_lines};
use crate::store::{Deployment, Status};

pub fn cmd_list(ctx: &Context, args: ListArgs) -> Result<()> {
    let store = ctx.store()?;
    let project = store.project(&args.project)?;
    let environment = match &args.environment {
        Some(name) => Some(store.environment(project.id, name)?.ok_or_else(|| {
            Failure::not_found(format!(
                "project `{}` has no environment `{}`",
                project.name,
                shown(name)
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
/// least): IMAGE and NOTE share what is beyond 80; into a pipe the row fits 80 columns.
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
/// The most IMAGE grows on a wide terminal: a registry's address, a path and a tag.
const IMAGE_MAX: usize = 64;

impl Columns {
    fn new(widest_id: i64, show_env: bool) -> Columns {
        let width = match console::Term::stdout().size_checked() {
            Some((_, columns)) if console::Term::stdout().is_term() => {
                (columns as usize).max(WIDTH)
            }
            _ => WIDTH,
        };
        let image = if show_env { 18 } else { 22 };
        Columns {
            id: widest_id.to_string().len().max(2),
            env: show_env.then_some(8),
            image: (image + (width - WIDTH) / 2).min(IMAGE_MAX),
            width,
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
            let _ = write!(line, "{:<env$} ", clip(&shown(&d.environment), env));
        }
        let mut note = d.note();
        if let Some(until) = d.warm_until.filter(|_| d.is_warm(now)) {
            // A version that failed is no standby: it only finishes its requests.
            let warm = match d.status {
                Status::Failed | Status::Cancelled => {
                    format!("draining until {}", time_of_day(until))
                }
                _ => format!("warm until {}", time_of_day(until)),
            };
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
            note = shown(error.lines().next().unwrap_or_default());
        }
        let _ = write!(
            line,
            "{:<image$} {:<CREATED$} {:<BY$} {}",
            clip_reference(&shown(&what(d)), self.image),
            ago(d.created_at, now),
            clip(&shown(&d.created_by), BY),
            clip(&note, self.note()),
            image = self.image
        );
        line.trim_end().to_string()
    }
}

/// An image reference (or a release folder) in at most `width` characters, cut in the
/// middle and never at its end, where versions differ: the last part of the path
/// (`/web:v2`) stays whole with as much of the start as fits
/// (`127.0.0.1:42500/fl…/web:v2`); when even that is too long, the end alone
/// (`…eb:v2`). Two references that end differently thus differ at any width.
fn clip_reference(text: &str, width: usize) -> String {
    let length = text.chars().count();
    if length <= width {
        return text.to_string();
    }
    // Always room for `…` and one character.
    let width = width.max(2);
    let tail = text.rfind('/').map_or(text, |slash| &text[slash..]);
    let tail_length = tail.chars().count();
    // A start shorter than this says too little to be worth its room.
    const HEAD_MIN: usize = 4;
    let (head, kept) = if tail_length + 1 + HEAD_MIN <= width {
        (width - 1 - tail_length, tail_length)
    } else {
        (0, width - 1)
    };
    let mut cut: String = text.chars().take(head).collect();
    cut.push('…');
    cut.extend(text.chars().skip(length - kept));
    cut
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
        field("image", shown(image));
    }
    if let Some(id) = &d.image_id {
        field("image id", shown(id));
    }
    if let Some(artifact) = &d.artifact {
        field("release", shown(artifact));
    }
    let now = now_ms();
    field(
        "created",
        format!(
            "{} ({}) by {}",
            rfc3339(d.created_at),
            ago(d.created_at, now),
            shown(&d.created_by)
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
    if let Some(from) = d.origin.rolled_back_from() {
        field("rolled back", format!("from #{from}"));
    }
    if let Some(reason) = &d.reason {
        field("reason", shown(reason));
    }
    if !d.containers.is_empty() {
        field("containers", shown(&d.containers.join(", ")));
    }
    if let Some(until) = d.warm_until {
        let label = match d.status {
            Status::Failed | Status::Cancelled => "draining until",
            _ => "warm until",
        };
        field(
            label,
            if d.is_warm(now) {
                rfc3339(until)
            } else {
                format!("{} (its standby has ended)", rfc3339(until))
            },
        );
    }
    if let Some(error) = &d.error {
        field(
            "error",
            shown_lines(error).replace('\n', "\n               "),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{clip, clip_reference};

    #[test]
    fn clips_long_text() {
        assert_eq!(clip("web:1.2", 10), "web:1.2");
        assert_eq!(clip("registry.example/web:1.2", 10), "registry.…");
    }

    #[test]
    fn an_image_reference_keeps_its_tag_at_any_width() {
        let v1 = "127.0.0.1:42500/fld-n-1234-5/web:v1";
        let v2 = "127.0.0.1:42500/fld-n-1234-5/web:v2";
        assert_eq!(clip_reference(v2, 40), v2);
        assert_eq!(clip_reference(v2, 26), "127.0.0.1:42500/fl…/web:v2");
        assert_eq!(clip_reference(v2, 22), "127.0.0.1:4250…/web:v2");
        assert_eq!(clip_reference(v2, 10), "…-5/web:v2");
        for width in 0..=v1.len() + 1 {
            let (a, b) = (clip_reference(v1, width), clip_reference(v2, width));
            assert_ne!(a, b, "v1 and v2 look the same at width {width}");
            assert!(
                a.chars().count() <= width.max(2),
                "{a} is wider than {width}"
            );
            assert!(b.ends_with('2'), "{b}");
        }
        let digest = format!("registry.example/web@sha256:{}", "ab".repeat(32));
        let cut = clip_reference(&digest, 22);
        assert_eq!(cut.chars().count(), 22);
        assert!(cut.starts_with('…') && cut.ends_with("abab"), "{cut}");
    }
}
