#!/usr/bin/env python3
"""Seed a temps history with many deployments, fast.

The project and its environment are made by the real `temps` binary (so the schema,
its migrations and the project's settings are exactly what temps writes); the
deployment rows are then bulk-inserted with sqlite3 in one transaction, column for
column as src/store/deployments.rs `record` + `route` leave them:

  * ids 1..N (AUTOINCREMENT, so sqlite_sequence follows), one per minute of history;
  * the newest is `deployed` and is the environment's current deployment; the rest are
    `completed`, with ~2% `failed` (error text) and ~0.5% `cancelled`;
  * ~5% are rollbacks (is_rollback, rolled_back_from_id / rolled_back_to_id) and ~1%
    promotes (is_promote, promoted_id), pointing at earlier rows;
  * containers is a JSON list, variables_digest the JSON map temps writes (FNV-1a
    digests, as `store::digest`).

usage: seed.py --temps BIN --db PATH [--project NAME] [--rows N]
"""

import argparse
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time


def fnv1a(key: str, value: str) -> str:
    """store::digest: FNV-1a 64 over key, NUL, value; 16 hex digits."""
    h = 0xCBF29CE484222325
    for byte in key.encode() + b"\0" + value.encode():
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def temps(binary, db, *args):
    subprocess.run([binary, "--db", db, "--quiet", *args], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--temps", required=True, help="the temps binary")
    ap.add_argument("--db", required=True, help="history database to create (must not exist)")
    ap.add_argument("--project", default="bench")
    ap.add_argument("--environment", default="production")
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()

    if os.path.exists(args.db):
        sys.exit(f"seed: {args.db} exists; remove it first")
    started = time.perf_counter()

    # The real binary makes the database, the project and the environment.
    temps(args.temps, args.db, "project", "create", args.project,
          "--container-port", "8080", "--health-path", "/healthz")
    variables = {"DATABASE_URL": "postgres://db/app", "LOG_LEVEL": "info"}
    temps(args.temps, args.db, "env", "set", args.project, "--environment", args.environment,
          *[f"{k}={v}" for k, v in variables.items()])

    conn = sqlite3.connect(args.db, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    (project_id,) = conn.execute("SELECT id FROM projects WHERE name = ?", (args.project,)).fetchone()
    (env_id,) = conn.execute(
        "SELECT id FROM environments WHERE project_id = ? AND name = ?",
        (project_id, args.environment)).fetchone()
    (count,) = conn.execute("SELECT count(*) FROM deployments").fetchone()
    if count:
        sys.exit("seed: the database already has deployments")

    digest = json.dumps({k: fnv1a(k, v) for k, v in sorted(variables.items())}, separators=(",", ":"))
    rng = random.Random(42)
    n = args.rows
    now_ms = int(time.time() * 1000)
    people = ["alice", "bob", "deploy-bot", "carol", "ci"]
    reasons = [None, None, None, "checkout errors after release", "hotfix", "scheduled release"]

    def rows():
        for i in range(1, n + 1):
            created = now_ms - (n - i) * 60_000 - 5_000
            image = f"registry.example.com/acme/{args.project}:1.{i}"
            image_id = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
            status, error = "completed", None
            is_rollback = is_promote = 0
            from_id = to_id = promoted = None
            r = rng.random()
            if i == n:
                status = "deployed"
            elif r < 0.02:
                status, error = "failed", (
                    f"not healthy within 30s (waited for GET /healthz on 127.0.0.1:8080; "
                    f"last attempt: GET /healthz answered HTTP 503) (#{i - 1} restored)")
            elif r < 0.025:
                status, error = "cancelled", f"interrupted; #{i - 1} restored"
            r = rng.random()
            if i > 2 and r < 0.05:
                is_rollback, from_id, to_id = 1, i - 1, rng.randint(max(1, i - 10), i - 2)
                to_image = f"registry.example.com/acme/{args.project}:1.{to_id}"
                image, image_id = to_image, "sha256:" + hashlib.sha256(to_image.encode()).hexdigest()
            elif i > 2 and r < 0.06:
                is_promote, promoted = 1, i - 1
            containers = json.dumps([f"temps-{args.project}-{args.environment}-{i}"])
            yield (i, project_id, env_id, image, image_id, None, status, is_rollback, from_id,
                   to_id, is_promote, promoted, created, created + 3_200, rng.choice(people),
                   rng.choice(reasons) if is_rollback else None, error, containers, digest)

    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO deployments (id, project_id, environment_id, image, image_id, artifact, "
        "status, is_rollback, rolled_back_from_id, rolled_back_to_id, is_promote, promoted_id, "
        "created_at, finished_at, created_by, reason, error, containers, variables_digest) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
    conn.execute("UPDATE environments SET current_deployment_id = ? WHERE id = ?", (n, env_id))
    conn.execute("COMMIT")
    bad = conn.execute("PRAGMA foreign_key_check").fetchall()
    if bad:
        sys.exit(f"seed: foreign key violations: {bad[:5]}")
    # Leave the file as a long-lived history would be: WAL folded into the main file.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = os.path.getsize(args.db) / 1e6
    print(f"seed: {n} deployments of `{args.project}` in {args.db} ({size:.1f} MB) "
          f"in {time.perf_counter() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
