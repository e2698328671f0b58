#!/usr/bin/env bash
# `temps list` over a long history, and `temps --version`: wall time (hyperfine) and
# peak RSS (GNU time -v).
#
#   bash benches/list.sh                    # 100,000 deployments, 50 timed runs each
#   ROWS=1000000 RUNS=20 bash benches/list.sh
#   BENCH_OUT=DIR bash benches/list.sh      # keep the hyperfine JSON exports in DIR
#   TRACE=0 bash benches/list.sh            # skip the strace timeline at the end
#
# Targets: `list PROJECT` (newest 20) < 50 ms and < 30 MB peak RSS; `list --limit 0`
# streams (peak RSS near the default page's: within 8 MB of it); `--version` < 10 ms.
# Exit 3 when a target is missed.
#
# `list` of a docker project asks the engine which images are still there (GET /version,
# GET /images/json, bounded at 500 ms), so the engine is started when none answers, and
# the same list is also timed with the engine unreachable (DOCKER_HOST pointing nowhere)
# to separate temps' own time from the engine's. The table's IMAGE ids are made up, so
# every older row says "image gone": the same work per row as any other answer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

rows=${ROWS:-100000}
runs=${RUNS:-50}
rss_runs=${RSS_RUNS:-10}

bench_need hyperfine hyperfine
bench_need /usr/bin/time time
bench_need python3 python3
[ "${TRACE:-1}" = 0 ] || bench_need strace strace
docker info >/dev/null 2>&1 || bash "$root/tests/docker-up.sh"
temps=$(bench_build "$root")

work=$(mktemp -d)
stub=
cleanup() {
  [ -z "$stub" ] || kill "$stub" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
out=${BENCH_OUT:-$work}
mkdir -p "$out"
db="$work/temps.db"
python3 "$root/benches/seed.py" --temps "$temps" --db "$db" --project bench --rows "$rows"

# An engine that accepts connections and never answers (a wedged dockerd): how long does
# `list` wait for it? Bounded in time: it exits by itself after 10 minutes.
python3 - "$work/stalled.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(64)
s.settimeout(1)
held, end = [], time.time() + 600
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
PY
stub=$!

# name|runs|command (stdout goes to /dev/null in both tools; no terminal, so no colour)
cases=(
  "list|$runs|$temps --db $db list bench"
  "list-no-engine|$runs|env DOCKER_HOST=unix:///nonexistent.sock $temps --db $db list bench"
  "list-stalled-engine|5|env DOCKER_HOST=unix://$work/stalled.sock $temps --db $db list bench"
  "list-all|$runs|$temps --db $db list bench --limit 0"
  "list-all-json|$runs|$temps --db $db -o json list bench --limit 0"
  "version|$runs|$temps --version"
)

for case in "${cases[@]}"; do
  IFS='|' read -r name n cmd <<<"$case"
  hyperfine -N --style basic --warmup "$((n < 5 ? 1 : 5))" --runs "$n" \
    --export-json "$out/$name.json" --command-name "$name" "$cmd" >&2
  # Peak RSS over several runs (kB).
  rm -f "$out/$name.rss"
  for _ in $(seq "$((n < rss_runs ? n : rss_runs))"); do
    # shellcheck disable=SC2086
    /usr/bin/time -f '%M' -o "$work/rss" $cmd >/dev/null
    cat "$work/rss" >>"$out/$name.rss"
  done
done

status=0
python3 - "$out" "$rows" "$(nproc)" "${cases[@]}" <<'PY' || status=$?
import json, statistics, sys
out, rows, cores, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
res = {}
for case in cases:
    name = case.split("|", 1)[0]
    t = json.load(open(f"{out}/{name}.json"))["results"][0]["times"]
    rss = [int(x) / 1024 for x in open(f"{out}/{name}.rss").read().split()]
    res[name] = (t, rss)
label = {
    "list": "temps list bench (newest 20)",
    "list-no-engine": "same, engine unreachable (+ env exec)",
    "list-stalled-engine": "same, engine accepts but never answers",
    "list-all": "temps list bench --limit 0",
    "list-all-json": "temps -o json list bench --limit 0",
    "version": "temps --version",
}
print(f"\n{rows} deployments, {cores} cores; times over {len(res['list'][0])} runs, peak RSS over {len(res['list'][1])}\n")
print("| command | median ms | mean ± σ ms | p95 ms | min … max ms | peak RSS MB (median, max) |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for name, (t, rss) in res.items():
    ms = sorted(x * 1000 for x in t)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[-1]
    print(f"| `{label[name]}` | {statistics.median(ms):.1f} | {statistics.fmean(ms):.1f} ± {statistics.stdev(ms):.1f} "
          f"| {p95:.1f} | {ms[0]:.1f} … {ms[-1]:.1f} | {statistics.median(rss):.1f}, {max(rss):.1f} |")
med = lambda name: statistics.median(res[name][0]) * 1000
peak = lambda name: max(res[name][1])
checks = [
    ("list (newest 20) < 50 ms", med("list") < 50),
    ("list (newest 20) < 30 MB peak RSS", peak("list") < 30),
    ("list --limit 0 peak RSS within 8 MB of the default page's", peak("list-all") - peak("list") <= 8),
    ("list -o json --limit 0 peak RSS within 8 MB of the default page's", peak("list-all-json") - peak("list") <= 8),
    ("--version < 10 ms", med("version") < 10),
]
print()
for what, ok in checks:
    print(f"target {'MET   ' if ok else 'MISSED'} {what}")
sys.exit(0 if all(ok for _, ok in checks) else 3)
PY
if [ "${TRACE:-1}" != 0 ]; then
  printf '\nwhere one "temps list bench" spends its time (strace):\n'
  python3 "$root/benches/strace_timeline.py" "$temps" --db "$db" list bench
fi
exit "$status"
