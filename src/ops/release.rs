//! Static releases on disk: each deployment's folder in `static/<project>/releases/<id>/`
//! and each environment's `current` symlink. Plain filesystem work, shared by the static
//! deploy, rollback and promote, recovery and `status`.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub fn release_dir(root: &Path, project: &str, id: i64) -> PathBuf {
    root.join(project).join("releases").join(id.to_string())
}

pub fn pointer(root: &Path, project: &str, environment: &str) -> PathBuf {
    root.join(project).join(environment).join("current")
}

/// Copy into a hidden folder first, then rename: a release is whole or absent.
pub fn copy_release(source: &Path, release: &Path) -> Result<()> {
    let parent = release.parent().context("a release has a parent folder")?;
    fs::create_dir_all(parent).with_context(|| format!("creating `{}`", parent.display()))?;
    let staging = parent.join(format!(
        ".incoming-{}",
        release
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let _ = fs::remove_dir_all(&staging);
    copy_tree(source, &staging)
        .with_context(|| format!("copying `{}` into a release", source.display()))?;
    fs::rename(&staging, release)
        .with_context(|| format!("moving the release to `{}`", release.display()))
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            symlink(fs::read_link(entry.path())?, &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Point the environment's `current` link at `release`, atomically.
pub fn point(root: &Path, project: &str, environment: &str, release: &Path) -> Result<()> {
    let link = pointer(root, project, environment);
    let dir = link.parent().context("the pointer has a parent folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let staging = dir.join(format!(".current-{}", std::process::id()));
    let _ = fs::remove_file(&staging);
    symlink(release, &staging).with_context(|| format!("linking `{}`", staging.display()))?;
    fs::rename(&staging, &link).with_context(|| format!("switching `{}`", link.display()))
}

/// Where the `current` link points now, if anywhere.
pub fn pointed(root: &Path, project: &str, environment: &str) -> Option<PathBuf> {
    fs::read_link(pointer(root, project, environment)).ok()
}

/// Remove what an interrupted static deployment may have left: its staging folder, and
/// its release folder (no deployment that served ever points at it).
pub fn discard_partial(root: &Path, project: &str, id: i64) {
    let release = release_dir(root, project, id);
    if let Some(parent) = release.parent() {
        let _ = fs::remove_dir_all(parent.join(format!(".incoming-{id}")));
    }
    let _ = fs::remove_dir_all(release);
}
