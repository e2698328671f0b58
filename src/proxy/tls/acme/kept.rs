//! What ACME keeps beside the history: `<db>-tls/`, one folder per ACME directory with
//! the account's credentials and each domain's certificate and key (folders 0700, files
//! 0600, written whole or not at all).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use super::AcmeOptions;
use crate::certificate::{self, Facts};

/// The folder beside the history at `db` that holds ACME's account and certificates.
pub fn state_dir(db: &Path) -> PathBuf {
    let db = fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push("-tls");
    db.with_file_name(name)
}

/// Where the account and certificates of `options`' directory are kept.
pub fn folder(options: &AcmeOptions) -> PathBuf {
    options
        .state_dir
        .join(&hex(&Sha256::digest(options.directory.as_bytes()))[..16])
}

/// The certificate kept in `folder` for `domain`, when there is one for that name.
pub fn kept(folder: &Path, domain: &str) -> Option<(Arc<CertifiedKey>, Facts)> {
    let cert = fs::read_to_string(folder.join(format!("{domain}.crt"))).ok()?;
    let key = fs::read_to_string(folder.join(format!("{domain}.key"))).ok()?;
    certificate::certified_key(&cert, &key)
        .ok()
        .filter(|(_, facts)| certificate::covers(&facts.names, domain))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Make `dir` (and its parents) with 0700.
pub(super) fn private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("making `{}`", dir.display()))
}

/// Write `bytes` to `path` as 0600, whole or not at all (a temporary file renamed).
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("writing `{}`", temporary.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing `{}`", temporary.display()))?;
    fs::rename(&temporary, path).with_context(|| format!("writing `{}`", path.display()))
}
