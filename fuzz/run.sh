#!/usr/bin/env bash
# Build the fuzz targets with libFuzzer's coverage instrumentation on stable Rust (the
# flags cargo-fuzz passes, without its nightly-only sanitizer) and run each for a bounded
# time from the committed corpus. New inputs go to a scratch folder, never to corpus/.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET]      (default 30)
#
# With nightly and cargo-fuzz, `cargo fuzz run request` does the same with AddressSanitizer.
set -euo pipefail

seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
target=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# --target keeps the flags off build scripts and procedural macros.
(cd "$here" && cargo build --locked --release --target "$target" --bin request --bin response --bin chunked)

mkdir -p "$here/artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for name in request response chunked; do
  mkdir -p "$scratch/$name"
  echo "fuzz: $name for ${seconds}s" >&2
  "$CARGO_TARGET_DIR/$target/release/$name" -max_total_time="$seconds" \
    -artifact_prefix="$here/artifacts/$name-" "$scratch/$name" "$here/corpus/$name"
done
