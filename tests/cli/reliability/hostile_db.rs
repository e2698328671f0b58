//! A history database temps must not use: random bytes, damaged pages, a newer schema,
//! another program's SQLite file, a path it cannot write. Each is refused with exit 1 and
//! a hint, and the file is left byte for byte as it was, with nothing beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// Every file in a folder (and its subfolders), by path, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).expect("read"));
            }
        }
    }
    files
}

/// Commands that read, and commands that would write.
fn every_kind_of_command() -> Vec<Vec<&'static str>> {
    vec![
        vec!["project", "list"],
        vec!["project", "create", "fresh"],
        vec!["list", "fresh"],
        vec!["deploy", "fresh", "--image", WEB_V1],
        vec!["rollback", "1", "--yes"],
        vec!["env", "set", "fresh", "KEY=value"],
        vec!["status"],
    ]
}

/// Every command refuses the database with exit 1 and a hint, leaving its folder as it was.
#[track_caller]
fn assert_refused_untouched(env: &TestEnv, says: &str) {
    let db = env.db();
    let folder = db.parent().expect("folder").to_path_buf();
    let before = snapshot(&folder);
    assert!(before.contains_key(&db), "no database at {}", db.display());
    for args in every_kind_of_command() {
        let run = env.run(&args);
        assert_eq!(
            run.status, 1,
            "temps {args:?}: exit {} (expected 1)\n{}",
            run.status, run.stderr
        );
        assert_error_with_hint(&run);
        assert!(
            run.stderr.contains(says),
            "temps {args:?}: stderr lacks {says:?}:\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(
            snapshot(&folder) == before,
            "temps {args:?} changed {} or left files beside it",
            folder.display()
        );
    }
}

/// Bytes that look like nothing in particular (xorshift, so the test is repeatable).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

fn python_sqlite(db: &Path, script: &str) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n{script}\nc.commit()\nc.close()\n"
        ))
        .arg(db)
        .status()
        .expect("python3");
    assert!(status.success(), "python3 sqlite3 script failed: {script}");
}

fn write_db(env: &TestEnv, bytes: &[u8]) {
    let db = env.db();
    std::fs::create_dir_all(db.parent().expect("folder")).expect("mkdir");
    std::fs::write(&db, bytes).expect("write");
}

#[test]
fn a_file_of_random_bytes_is_refused_and_left_untouched() {
    let env = TestEnv::new();
    write_db(&env, &noise(16 * 1024, 0x9e37_79b9_7f4a_7c15));
    assert_refused_untouched(&env, "cannot use");
}

#[test]
fn a_text_file_is_refused_and_left_untouched() {
    let env = TestEnv::new();
    write_db(
        &env,
        b"deploy notes: web v1 is fine\n".repeat(200).as_slice(),
    );
    assert_refused_untouched(&env, "cannot use");
}

#[test]
fn a_history_with_damaged_pages_is_refused_and_left_untouched() {
    let env = TestEnv::new();
    env.ok(&["project", "create", "web"]);
    let db = env.db();
    let mut bytes = std::fs::read(&db).expect("read");
    // Keep the first page (header and schema), scramble every other one.
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    assert!(bytes.len() > page, "a history of one page");
    let tail = noise(bytes.len() - page, 42);
    bytes[page..].copy_from_slice(&tail);
    std::fs::write(&db, &bytes).expect("write");
    assert_refused_untouched(&env, "malformed");
}

#[test]
fn a_history_from_a_newer_schema_is_refused_and_left_untouched() {
    let env = TestEnv::new();
    env.ok(&["project", "create", "web"]);
    python_sqlite(&env.db(), "c.execute('PRAGMA user_version = 99')");
    assert_refused_untouched(&env, "schema version 99");
    env.run(&["project", "list"]).stderr_has("upgrade temps");
}

#[test]
fn another_programs_sqlite_database_is_refused_and_left_untouched() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.db().parent().expect("folder")).expect("mkdir");
    python_sqlite(
        &env.db(),
        "c.execute('CREATE TABLE notes (body TEXT)')\nc.execute(\"INSERT INTO notes VALUES ('keep me')\")",
    );
    assert_refused_untouched(&env, "not a temps history");
}

#[test]
fn an_unwritable_database_path_is_refused_with_a_hint() {
    let env = TestEnv::new();
    let file = env.dir.path().join("a-file");
    std::fs::write(&file, "not a folder\n").expect("write");
    let folder = env.dir.path().join("a-folder");
    std::fs::create_dir(&folder).expect("mkdir");
    let places = [
        PathBuf::from(format!("/proc/temps-test-{}.db", std::process::id())),
        file.join("temps.db"),
        folder.clone(),
    ];
    for place in &places {
        for args in [vec!["project", "list"], vec!["project", "create", "web"]] {
            let run = Run::from(
                env.cmd()
                    .env("TEMPS_DB", place)
                    .args(&args)
                    .output()
                    .expect("run temps"),
            );
            assert_eq!(
                run.status,
                1,
                "--db {}: exit {} (expected 1)\n{}",
                place.display(),
                run.status,
                run.stderr
            );
            assert_error_with_hint(&run);
            assert!(
                run.stderr.contains(&place.display().to_string()),
                "the error does not name {}:\n{}",
                place.display(),
                run.stderr
            );
        }
    }
    assert!(!places[0].exists());
    assert_eq!(std::fs::read(&file).expect("read"), b"not a folder\n");
    assert_eq!(std::fs::read_dir(&folder).expect("read dir").count(), 0);
}

#[test]
fn a_database_path_that_is_not_utf8_works() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    let db = env.dir.path().join(OsStr::from_bytes(b"hist\xff\xfe.db"));
    let run = |args: &[&str]| {
        Run::from(
            env.cmd()
                .arg("--db")
                .arg(&db)
                .args(args)
                .output()
                .expect("run temps"),
        )
    };
    run(&["project", "create", "web"]).code(0);
    run(&["project", "list"]).code(0).stdout_has("web");
    assert!(db.exists());
}
