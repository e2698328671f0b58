//! `temps prune PROJECT [--keep N] [--dry-run]`.

use anyhow::Result;
use serde_json::json;

use super::{block_on, Context};
use crate::cli::PruneArgs;
use crate::ops::prune::{prune, PruneRequest};

pub fn cmd_prune(ctx: &Context, args: PruneArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let spinner = ctx.out.progress(&format!("pruning {}", args.project));
    let request = PruneRequest {
        command: format!("prune {} --keep {}", args.project, args.keep),
        project: args.project.clone(),
        keep: args.keep,
        dry_run: args.dry_run,
        created_by: crate::ops::current_user(),
        wait_lock: args.lock.wait_lock,
    };
    let pruned = block_on(prune(&mut store, request, &spinner))??;
    spinner.finish();
    if ctx.out.is_json() {
        return ctx.out.json(&json!({
            "project": args.project,
            "dry_run": args.dry_run,
            "keep": args.keep,
            "pruned": pruned,
        }));
    }
    if pruned.is_empty() {
        ctx.out.line(format!(
            "nothing to prune: {} keeps its newest {} per environment",
            args.project, args.keep
        ));
        return Ok(());
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for item in &pruned {
        let things: Vec<&str> = item
            .containers
            .iter()
            .chain(&item.tags)
            .chain(&item.releases)
            .map(String::as_str)
            .collect();
        ctx.out.line(format!(
            "#{} ({}): {verb} {}",
            item.deployment_id,
            item.environment,
            crate::output::shown(&things.join(", "))
        ));
    }
    if args.dry_run {
        ctx.out.note("dry run: nothing was removed");
    }
    Ok(())
}
