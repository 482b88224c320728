#!/usr/bin/env bash
# Distributed runs on one machine: `run --queue` with two workers beside one worker, and the queue path's cost per
# request beside a local run (the same requests sent by `run` itself).
#
#   bash bench/queue.sh                         # from the project root, after npm run build
#   N=50000 CONC=64 REPS=3 bash bench/queue.sh
#
# Work: N payloads (NDJSON, small JSON objects) POSTed to an nginx upstream answering small JSON (NGINX_CONF, see
# bench/README.md), so the upstream is never the bottleneck. CONC requests in flight per worker (and in
# the local run). Each mode runs REPS times; the figure is the median.
#   rate      payloads/s of the `run` process, start to exit (Redis set-up and teardown included); workers are
#             started (and ready) before the clock starts, as they would be in production.
#   cpu/1k    CPU milliseconds per 1,000 requests, per process kind: the run, the worker(s), redis-server (when it
#             runs on this machine), from /proc. The local run's figure is all there is to a local run; the queue
#             path's overhead per request is the sum of its columns minus it.
# DELAY_MS=20 swaps nginx for the project's fixture server answering after DELAY_MS (/slow?ms=DELAY_MS): a
# latency-bound upstream, where a worker's rate is CONC / latency rather than its CPU, as with most real APIs.
# Needs nginx (nginx-light) and a Redis at REDIS_URL (default redis://127.0.0.1:6379; started here when nothing
# answers and redis-server is installed).
set -u
N=${N:-50000}; CONC=${CONC:-64}; REPS=${REPS:-3}; UP_PORT=${UP_PORT:-18081}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
root=$(cd "$(dirname "$0")/.." && pwd)
conf=${NGINX_CONF:-$root/../shared/bench/peers/nginx-upstream.conf}
bin="node $root/bin/batchpost.js"
hz=$(getconf CLK_TCK)

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx; then
  echo "installing nginx-light (Debian)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light) >/dev/null 2>&1
fi
[ -f "$root/dist/src/cli/main.js" ] || { echo "bench/queue.sh: run npm run build first" >&2; exit 2; }

work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

redis_host=$(node -e 'const u = new URL(process.argv[1]); console.log(u.hostname, u.port || 6379)' "$REDIS_URL")
read -r rhost rport <<<"$redis_host"
if ! (echo >"/dev/tcp/$rhost/$rport") 2>/dev/null; then
  need redis-server || { echo "bench/queue.sh: no Redis at $REDIS_URL and no redis-server to start" >&2; exit 2; }
  redis-server --daemonize no --bind 127.0.0.1 --port "$rport" --save '' --appendonly no >/dev/null & pids+=($!)
  for _ in $(seq 1 50); do (echo >"/dev/tcp/$rhost/$rport") 2>/dev/null && break; sleep 0.1; done
fi
redis_pid=$(redis-cli -u "$REDIS_URL" info server 2>/dev/null | awk -F: '/^process_id:/ {print $2+0}')
[ -n "$redis_pid" ] && [ -r "/proc/$redis_pid/stat" ] || redis_pid=

if [ -n "${DELAY_MS:-}" ]; then
  node "$root/dist/fixtures/server.js" --port "$UP_PORT" >/dev/null & pids+=($!)
  url=http://127.0.0.1:$UP_PORT/slow?ms=$DELAY_MS
else
  sed "s/127.0.0.1:18080/127.0.0.1:$UP_PORT/" "$conf" | sed "s#/tmp/bench-nginx#$work/nginx#" > "$work/nginx.conf"
  nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
  url=http://127.0.0.1:$UP_PORT/process
fi
for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$UP_PORT") 2>/dev/null && break; sleep 0.1; done
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"data\":%d,\"note\":\"payload-%d\"}\n", i, i }' > "$work/in.ndjson"

# CPU ticks (user + system) of a live process.
ticks() { [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }
ms_per_1k() { awk -v t="$1" -v hz="$hz" -v n="$N" 'BEGIN { printf "%.0f", t * 1000 / hz / n * 1000 }'; }

# one_run MODE WORKERS -> "secs run_cpu_ms worker_ticks redis_ticks lines"
one_run() {
  local workers=$1 queue="bench-$$-$RANDOM" wpids=() wlogs=()
  rm -f "$work/out.ndjson"
  local extra=""
  if [ "$workers" -gt 0 ]; then
    for w in $(seq 1 "$workers"); do
      $bin worker --queue "$REDIS_URL" --queue-name "$queue" --concurrency "$CONC" >"$work/w$w.log" 2>&1 & wpids+=($!)
      wlogs+=("$work/w$w.log")
    done
    for l in "${wlogs[@]}"; do for _ in $(seq 1 100); do grep -q 'serving queue' "$l" && break; sleep 0.1; done; done
    extra="--queue $REDIS_URL --queue-name $queue"
  fi
  local w0=0 r0 r1 w1=0
  for p in "${wpids[@]}"; do w0=$((w0 + $(ticks "$p"))); done
  r0=$(ticks "$redis_pid")
  /usr/bin/time -f '%e %U %S' -o "$work/time" $bin run "$work/in.ndjson" --url "$url" --out "$work/out.ndjson" \
    --concurrency "$CONC" --progress none $extra >"$work/run.log" 2>&1
  r1=$(ticks "$redis_pid")
  for p in "${wpids[@]}"; do w1=$((w1 + $(ticks "$p"))); done
  for p in "${wpids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${wpids[@]}"; do wait "$p" 2>/dev/null; done
  read -r secs user sys < <(tail -n 1 "$work/time")
  echo "$secs $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", (u + s) * 1000 }') $((w1 - w0)) $((r1 - r0)) $(wc -l < "$work/out.ndjson")"
}

printf '%-22s %10s %8s %8s %8s %8s  %s\n' mode payloads/s run workers redis total results
printf '%-22s %10s %8s %8s %8s %8s\n' '' '' cpu/1k cpu/1k cpu/1k cpu/1k
for mode in local:0 one-worker:1 two-workers:2; do
  name=${mode%%:*}; workers=${mode##*:}
  : > "$work/reps"
  for _ in $(seq 1 "$REPS"); do one_run "$workers" >> "$work/reps"; done
  # median by rate
  read -r secs runms wt rt lines < <(awk -v n="$N" '{ print n / $1, $0 }' "$work/reps" | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}' | cut -d' ' -f2-)
  rate=$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  runk=$(awk -v m="$runms" -v n="$N" 'BEGIN { printf "%.0f", m / n * 1000 }')
  wk=$(ms_per_1k "$wt"); rk=$(ms_per_1k "$rt")
  printf '%-22s %10s %8s %8s %8s %8s  %s\n' "$name" "$rate" "$runk" "$wk" "$rk" "$((runk + wk + rk))" "$lines"
  eval "rate_${name//-/_}=$rate"
done
awk -v l="$rate_local" -v a="$rate_one_worker" -v b="$rate_two_workers" -v n="$N" -v c="$CONC" -v cores="$(nproc)" \
  -v up="${DELAY_MS:+fixture server, ${DELAY_MS} ms per answer}" \
  'BEGIN { printf "two/one=%.2f one/local=%.2f two/local=%.2f (N=%s, CONC=%s per worker, %s cores, upstream: %s)\n", b / a, a / l, b / l, n, c, cores, (up == "" ? "nginx" : up) }'
