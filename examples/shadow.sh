#!/usr/bin/env bash
# Shadow-testing version 2 on real traffic, then ramping a later version by a sticky percentage, end to end,
# on a fresh embedded store, with no change to the code that calls it (docs/routing.md):
#   add app.py (v1) -> add a v2 of lookupUser into v2 -> route it as a shadow, from a routing file -> a batch
#   of requests (v1 answers every one; v2 runs beside it, in a sandbox, and is compared) -> the report shows a
#   divergence -> show it -> replay its task with v2 (the same divergence) -> add a fixed v2 -> requests again:
#   all match -> promote v2 (one undoable step) -> history -> ramp a v3 to 10% of the users, then 50%.
# It works in a new temporary directory, so the store it makes (.ucode/ there) is fresh every time.
# Usage: bash examples/shadow.sh            (KEEP=1 bash examples/shadow.sh keeps the store)
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
if [ -z "$KEEP" ]; then trap 'rm -rf "$WORK"' EXIT; fi
cd "$WORK"
unset UCODE_STORE
quote() { local out="" a; for a in "$@"; do case "$a" in *[\ \"{}#]*) out+=" '$a'";; *) out+=" $a";; esac; done; echo "${out# }"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$(quote "$@")"; "$@"; }
say() { printf '\n\033[1m$ # %s\033[0m\n' "$*"; }
task_of() { ucode divergence show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["task"])'; }

# One request as its client sees it: the page, or the error (ids past 2 are unknown users: v1 raises KeyError,
# so the task fails, as a 404 would). What v2 does with it is in the route's report, never in the answer.
request() {
  local out
  if out="$(ucode -q run handleRequest "{\"user_id\": $1}" 2>&1)"; then
    printf 'user %s: %s\n' "$1" "$out"
  else
    printf 'user %s: failed: %s\n' "$1" "$(grep -E '^[A-Za-z]+(Error|Exception)' <<<"$out" | tail -n 1)"
  fi
}
# The users (of 1..10) whose request version 3 answered: it prints a line when it does. Users 3..10 do not
# exist: their requests fail in every version, but only after the route has decided, so they are bucketed too.
answered_by_v3() {
  local n out users=""
  for n in $(seq 1 10); do
    out="$(ucode -q run handleRequest "{\"user_id\": $n}" 2>&1 || true)"
    if grep -q '^lookupUser v3' <<<"$out"; then users+=" $n"; fi
  done
  echo "${users# }"
}

echo "ucode shadow + percent routing in $WORK (store: $WORK/.ucode)"
step ucode add "$EXAMPLES/app.py"
# Version 2 of app.py: the same module (`app`: the file is named app.py), lookupUser rewritten to find a user
# by position. It has a bug: id 0 gives rows[-1], the last user, where v1 says there is no such user.
step ucode add "$EXAMPLES/shadow/v2/app.py" --version v2
step ucode diff v1 v2

# The route, in the memo's format: v1 answers, v2 is the shadow. (`ucode route shadow lookupUser --candidate
# v2 --primary v1` is the same route from the command line.)
cat > routing.yaml <<'EOF'
functions:
  lookupUser:
    routing:
      mode: shadow
      primary: v1
      shadow: v2
EOF
step cat routing.yaml
step ucode route apply routing.yaml
step ucode route list

say "a batch of requests: ucode run handleRequest '{\"user_id\": N}' for N in 1 2 3 0"
for n in 1 2 3 0; do request "$n"; done
# user 3: both versions raise KeyError('no user 3'): the same type and message, a match
# user 0: v1 raises, v2 returns Grace: a divergence (the caller still got v1's answer)
step ucode route report lookupUser
step ucode divergence show d1

# Replay the task of that divergence with v2 swapped in: every effect is served from its log, so this is the
# same call the shadow run compared, and it diverges the same way. A replay that diverges exits 3 (what a CI
# gate wants), so 3 is expected here and any other failure still stops the script.
TASK="$(task_of d1)"
step ucode task replay "$TASK" --use lookupUser=v2 || [ $? -eq 3 ]

# The fix, added into v2 again: the route follows v2's binding. Applying the file again starts a new revision
# of the route (its candidate's hash changed), so the report counts the fixed candidate only.
step ucode add "$EXAMPLES/shadow/v2_fix/app.py" --version v2
step ucode task replay "$TASK" --use lookupUser=v2        # the task that diverged: identical now (exit 0)
step ucode route apply routing.yaml

say "the same requests again"
for n in 1 2 3 0; do request "$n"; done
step ucode route report lookupUser

# Promote: bind lookupUser (in the default version, v1) to what the candidate runs, and remove the route: one
# step in the namespace log, which one `ucode undo` takes back.
step ucode route promote lookupUser
step ucode history -n 3
step ucode route list

# A later candidate, version 3, ramped by a sticky percentage of users: a user's bucket is blake3 of the
# route's salt and the user id, so the same users go to v3 on every request, and raising the percent only
# adds users (the salt stays while the route exists; --salt demo makes this demo pick the same users on
# every run).
step ucode add "$EXAMPLES/shadow/v3/app.py" --version v3
step ucode route percent lookupUser --candidate v3 --percent 10 --key user_id --salt demo
say "one request for each of the users 1..10 (v3 prints a line when it answers)"
AT10="$(answered_by_v3)"
echo "answered by v3: ${AT10:-(none)}"
step ucode route report lookupUser
step ucode route percent lookupUser --candidate v3 --percent 50 --key user_id --salt demo
say "the same 10 users again"
AT50="$(answered_by_v3)"
echo "answered by v3: ${AT50:-(none)}"
for n in $AT10; do   # monotonic: every user v3 answered at 10% it answers at 50% too
  case " $AT50 " in *" $n "*) ;; *) echo "error: user $n went to v3 at 10% but not at 50%" >&2; exit 1;; esac
done
step ucode route report lookupUser
step ucode route show lookupUser

if [ -n "$KEEP" ]; then
  printf '\nThe project is kept in %s. To look at its store:\n  cd %q && ucode route list\n' "$WORK" "$WORK"
  printf '  (then e.g. ucode route report lookupUser, ucode divergence show d1, ucode history, ucode task list)\n'
else
  printf '\n(%s and its store are removed now; run with KEEP=1 to keep them and look around)\n' "$WORK"
fi
