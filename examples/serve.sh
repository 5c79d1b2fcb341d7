#!/usr/bin/env bash
# The walkthrough served over HTTP: a function swapped under live traffic, without dropping a request, on a
# fresh embedded store (docs/engine.md):
#   add app.py (v1) -> `ucode serve` it, handleRequest as POST /handle -> a request -> a client sends requests
#   in a loop -> add a v2 of lookupUser -> `ucode bind` it (from another process) while the loop runs -> the
#   answers switch from v1 to v2, none fails -> engine status -> a second engine on the store, refused -> run
#   through the API with the token -> shadow the old lookupUser on live requests, its report -> replay a task
#   through the API with v2 swapped in -> SIGTERM: the engine drains and stops -> verify.
# It works in a new temporary directory, so the store it makes (.ucode/ there) is fresh every time; the engine
# listens on a free port of 127.0.0.1 and is stopped (SIGTERM) whatever happens. Needs python3 (for the HTTP
# calls, with the standard library's urllib: no curl needed).
# Usage: bash examples/serve.sh            (KEEP=1 bash examples/serve.sh keeps the store)
set -euo pipefail
EXAMPLES="$(cd "$(dirname "$0")" && pwd)"
# KEEP=1 keeps the new temporary directory (and its store) to look at afterwards; KEEP=DIR works in DIR
# instead (made if missing; it must not hold a store yet) and keeps it. Without KEEP it is removed at the end.
KEEP="${KEEP:-}"
if [ -n "$KEEP" ] && [ "$KEEP" != 1 ]; then
  mkdir -p "$KEEP"
  WORK="$(cd "$KEEP" && pwd)"
  if [ -e "$WORK/.ucode" ]; then echo "error: $WORK/.ucode exists: KEEP=DIR needs a directory without a store" >&2; exit 2; fi
else
  WORK="$(mktemp -d)"
fi
ENGINE_PID=""
CLIENT_PID=""
# Whatever happens (an error, Ctrl-C), the client loop and the engine are stopped (the engine with SIGTERM,
# as a service manager stops it, and waited for), then the directory is removed unless KEEP is set.
cleanup() {
  local status=$?
  if [ -n "$CLIENT_PID" ] && kill -0 "$CLIENT_PID" 2>/dev/null; then kill "$CLIENT_PID" 2>/dev/null || true; wait "$CLIENT_PID" 2>/dev/null || true; fi
  if [ -n "$ENGINE_PID" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then kill -TERM "$ENGINE_PID" 2>/dev/null || true; wait "$ENGINE_PID" 2>/dev/null || true; fi
  if [ "$status" -ne 0 ] && [ -f "$WORK/engine.log" ]; then echo "--- the engine's output ($WORK/engine.log):" >&2; cat "$WORK/engine.log" >&2; fi
  if [ -z "$KEEP" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"
unset UCODE_STORE UCODE_ENGINE_TOKEN
quote() { local out="" a; for a in "$@"; do case "$a" in *[\ \"{}#]*) out+=" '$a'";; *) out+=" $a";; esac; done; echo "${out# }"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$(quote "$@")"; "$@"; }
say() { printf '\n\033[1m$ # %s\033[0m\n' "$*"; }
fail() { echo "error: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# One HTTP request to the engine, shown as `METHOD URL BODY`, then its status and JSON answer. Sent with
# python3's urllib (the same request as `curl -s -X METHOD URL -d BODY`). AUTH=1 sends the engine's token as
# `Authorization: Bearer ...`; PRETTY=1 indents the answer; SHOW=EXPR prints the Python expression EXPR of
# the answer `d` instead; EXPECT=N fails the script unless the status is N (default: any 2xx).
http() {
  local method="$1" path="$2" body="${3:-}"
  printf '\n\033[1m$ %s %s%s%s\033[0m\n' "$method" "$BASE$path" "${body:+ }$body" "${AUTH:+   (Authorization: Bearer \$TOKEN)}"
  python3 - "$method" "$BASE$path" "$body" "${AUTH:+$TOKEN}" "${PRETTY:-}" "${EXPECT:-}" "${SHOW:-}" <<'EOF'
import json, sys, urllib.error, urllib.request
method, url, body, token, pretty, expect, show = sys.argv[1:8]
headers = {"Content-Type": "application/json"} if body else {}
if token:
    headers["Authorization"] = f"Bearer {token}"
req = urllib.request.Request(url, data=body.encode() if body else None, method=method, headers=headers)
try:
    with urllib.request.urlopen(req, timeout=30) as resp:
        status, reason, raw = resp.status, resp.reason, resp.read()
except urllib.error.HTTPError as exc:
    status, reason, raw = exc.code, exc.reason, exc.read()
d = json.loads(raw)
print(status, reason)
print(eval(show) if show else json.dumps(d, indent=2 if pretty else None, ensure_ascii=False))
if (int(expect) if expect else None) not in (status, None) or (not expect and not 200 <= status < 300):
    sys.exit(f"error: {method} {url} answered {status}, not {expect or '2xx'}")
EOF
}

echo "ucode engine walkthrough in $WORK (store: $WORK/.ucode)"
step ucode add "$EXAMPLES/app.py"

# The engine: the store's functions as tasks, behind an HTTP API under /v1/, and handleRequest(request) as
# POST /handle (the JSON body's keys are its keyword arguments: {"request": {...}}). Port 0: any free port;
# the ready line says which, once the engine accepts connections and handles signals (from then on a SIGTERM
# drains). It runs in the background until SIGTERM.
say "ucode serve --port 0 --endpoint 'POST /handle=handleRequest' > engine.log 2>&1 &"
ucode serve --port 0 --endpoint 'POST /handle=handleRequest' > engine.log 2>&1 &
ENGINE_PID=$!
BASE=""
for _ in $(seq 100); do   # up to 10 s for the ready line: "ucode engine serving STORE on URL (pid N)"
  BASE="$(sed -n 's/^ucode engine serving .* on \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\) (pid [0-9][0-9]*)$/\1/p' engine.log)"
  [ -n "$BASE" ] && break
  kill -0 "$ENGINE_PID" 2>/dev/null || { wait "$ENGINE_PID" || true; ENGINE_PID=""; fail "the engine exited before it served"; }
  sleep 0.1
done
[ -n "$BASE" ] || fail "the engine did not say where it listens within 10 s"
cat engine.log

EXPECT=200 http POST /handle '{"request": {"user_id": 1}}'
# Unknown users raise KeyError in the stored code: a 500 with the task's id and the traceback, as `ucode run
# --json` prints a failure. The task is recorded, as every request's is.
# (Shown here without the frames: `traceback` is also there as a list of {name, hash, path, line, text}.)
FAILURE='json.dumps({"task": d["task"], "error": {k: d["error"][k] for k in ("type", "message")}}) + "\n" + d["error"]["traceback"].rstrip()'
SHOW="$FAILURE" EXPECT=500 \
  http POST /handle '{"request": {"user_id": 7}}'

# A client that sends requests one after the other (users 1 and 2 in turn) and writes down each answer:
# its status, its task and the user's name as answered. It stops when the file `stop` appears, or after
# 60 s (bounded, whatever happens to this script).
cat > client.py <<'EOF'
import json, os, sys, time, urllib.error, urllib.request

url, out = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 60
with open(out, "w") as f:
    for i in range(1_000_000):
        if os.path.exists("stop") or time.monotonic() > deadline:
            break
        req = urllib.request.Request(url, data=json.dumps({"request": {"user_id": 1 + i % 2}}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                answer = json.loads(resp.read())
                f.write(f"{resp.status} {answer['task']} {answer['result']['user']}\n")
        except urllib.error.HTTPError as exc:
            f.write(f"{exc.code} - {exc.read()[:200]!r}\n")
        except Exception as exc:  # a refused or dropped connection: also a failed request
            f.write(f"error - {exc!r}\n")
        f.flush()
EOF
answers() { wc -l < responses.txt; }
answers_v2() { { grep -cE ' (ADA|GRACE)$' responses.txt || true; }; }
wait_for() {  # wait_for WHAT COMMAND N: up to 20 s until COMMAND prints a number >= N
  local what="$1" cmd="$2" n="$3" end=$((SECONDS + 20))
  while [ "$SECONDS" -lt "$end" ]; do [ "$($cmd)" -ge "$n" ] 2>/dev/null && return 0; sleep 0.1; done
  fail "$what: $($cmd) after 20 s, fewer than $n"
}
say "python3 client.py $BASE/handle responses.txt &    # requests in a loop, in the background"
: > responses.txt
python3 client.py "$BASE/handle" responses.txt &
CLIENT_PID=$!
wait_for "answers before the bind" answers 30

# Version 2 of app.py (the same module): lookupUser answers the name in capitals. Adding it into v2 changes
# nothing the engine runs; binding the default version's lookupUser to v2's hash does: the engine sees the
# namespace log move (it polls it every 10 ms), and the next task runs the new code. Tasks in flight finish
# on the code they started with.
step ucode add "$EXAMPLES/serve/v2/app.py" --version v2
OLD="#$(ucode view lookupUser --json | json 'd["hash"][:10]')"
NEW="#$(ucode view lookupUser@v2 --json | json 'd["hash"][:10]')"
step ucode bind lookupUser "$NEW"
wait_for "answers from v2 after the bind" answers_v2 30
touch stop
wait "$CLIENT_PID"
CLIENT_PID=""

say "what the client got"
python3 - <<'EOF'
import sys

rows = [line.split(" ", 2) for line in open("responses.txt").read().splitlines()]
failed = [r for r in rows if r[0] != "200"]
side = ["v2" if r[2].isupper() else "v1" for r in rows if r[0] == "200"]
first_v2 = side.index("v2") if "v2" in side else len(side)
print(f"{len(rows)} requests: {side.count('v1')} answered by v1 ('Ada', 'Grace'), {side.count('v2')} by v2 "
      f"('ADA', 'GRACE'), {len(failed)} failed")
for r in failed[:5]:
    print("  failed:", " ".join(r))
if failed:
    sys.exit("error: requests failed during the swap")
if not side.count("v1") or not side.count("v2") or "v1" in side[first_v2:]:
    sys.exit("error: the answers did not switch from v1 to v2 once")
print(f"the answers switched once, at request {first_v2 + 1}: every later one ran the new code")
open("tasks.txt", "w").write(f"{rows[0][1]} {rows[first_v2 - 1][1]} {rows[first_v2][1]}\n")
EOF
read -r FIRST LAST_V1 FIRST_V2 < tasks.txt
# Each task recorded the snapshot it ran: the namespace log position, and the closure hash of what ran (which
# changes exactly when what would run changes). The last task on v1 and the first on v2:
for t in "$LAST_V1" "$FIRST_V2"; do
  SHOW='"{id} {status}: names as of log position {position}, closure {closure:.10}, result {result}".format(**d)' \
    EXPECT=200 http GET "/v1/tasks/$t"
done

# The engine's own view: snapshots in use (none now: no task in flight), counters, and the code changes it
# saw: the add into v2, then the bind, with how long after it the first task ran the new code.
step ucode engine status

# One engine per store: a second `ucode serve` on this store is refused, and says which engine serves it.
# (Bounded by `timeout`, so that the script cannot hang if it were not.)
say "ucode serve --port 0    # a second engine on the same store"
SECOND=0
timeout 20 ucode serve --port 0 > second.log 2>&1 || SECOND=$?
cat second.log
[ "$SECOND" -ne 0 ] && grep -q '^error: an engine already serves the store at ' second.log \
  || fail "a second engine on the store was not refused (exit status $SECOND)"

# The API: POST /v1/run/NAME runs a stored function as a task (`ucode run NAME --json`). It needs the
# engine's token (every /v1/ endpoint that runs code or changes something does; on loopback, reads do not;
# your own routes, such as /handle, never do).
step ucode engine token
TOKEN="$(ucode engine token)"
EXPECT=401 http POST /v1/run/handleRequest '{"args": [{"user_id": 2}]}'
AUTH=1 EXPECT=200 http POST /v1/run/handleRequest '{"args": [{"user_id": 2}]}'

# A shadow route on live traffic: lookupUser's answer is the caller's own binding (v2's code now), and the
# code it had before the bind runs beside each call, off the request's path, and is compared. (The label v1
# would not do: the default version, v1, binds v2's code now; the old code is its hash, $OLD.)
step ucode route shadow lookupUser --candidate "$OLD"
EXPECT=200 http POST /handle '{"request": {"user_id": 1}}'
EXPECT=200 http POST /handle '{"request": {"user_id": 2}}'
SHOW="$FAILURE" EXPECT=500 http POST /handle '{"request": {"user_id": 3}}'   # both versions raise: a match
shadowed() { ucode route report lookupUser --json | json 'd["shadowed"]'; }
wait_for "shadow runs counted" shadowed 3   # shadow runs are written in batches, off the requests' path
step ucode route report lookupUser
step ucode divergence show d1
step ucode route clear lookupUser

# Replay through the API: the client's first task (v1 answered it) with lookupUser swapped for v2's: every
# effect is served from the task's log, and the replay says what v2 would have answered (a divergence; still
# a 200: `identical` says). The engine runs `ucode task replay ID --use lookupUser=v2 --json` for it, in a
# process of its own (so the old snapshot never holds live tasks back), and answers what it prints. (On
# loopback a replay needs no token, as it performs no effect; the token is sent as a client beyond loopback
# must.)
AUTH=1 PRETTY=1 EXPECT=200 http POST "/v1/tasks/$FIRST/replay" '{"use": {"lookupUser": "v2"}}'

# SIGTERM: the engine stops accepting, lets the tasks in flight finish (up to --drain-timeout; a request whose
# task still runs then gets a 503 with the task's id), and says so.
say "kill -TERM $ENGINE_PID; wait $ENGINE_PID"
kill -TERM "$ENGINE_PID"
STOPPED=0
wait "$ENGINE_PID" || STOPPED=$?
ENGINE_PID=""
[ "$STOPPED" -eq 0 ] || fail "the engine exited with status $STOPPED"
step tail -n 1 engine.log
grep -q '^ucode engine stopped: ' engine.log || fail "the engine did not say it stopped"
step ucode task list -n 3
step ucode verify

if [ -n "$KEEP" ]; then
  printf '\nThe project is kept in %s. To look at its store (or serve it again):\n  cd %q && ucode task list\n' "$WORK" "$WORK"
  printf '  (then e.g. ucode history, ucode task show last, ucode serve --endpoint '\''POST /handle=handleRequest'\'')\n'
else
  printf '\n(%s and its store are removed now; run with KEEP=1 to keep them and look around)\n' "$WORK"
fi
