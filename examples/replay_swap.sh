#!/usr/bin/env bash
# Debugging a bug that shows up only sometimes, by replay + swap, end to end, on a fresh embedded store:
#   a checkout fails now and then -> find the failed task -> replay it exactly -> replay it with one
#   function swapped for a debug version that logs -> keep that swap for the task -> replay every recorded
#   checkout against the fix (a regression test from real traffic) -> ship the fix by rebinding one name.
# No redeploy, no code change to the callers, no global logging. Works in a new temporary directory.
# Usage: bash examples/replay_swap.sh            (KEEP=1 bash examples/replay_swap.sh keeps the store)
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
hash_of() { ucode view "$1" --json | python3 -c 'import json,sys; print("#" + json.load(sys.stdin)["hash"][:10])'; }
REQUEST='{"items": ["book", "pen"], "plan": "pro"}'

echo "ucode replay + swap in $WORK (store: $WORK/.ucode)"
step ucode add "$EXAMPLES/checkout.py"

# Production traffic: the same request, over and over; the promo roll is random, and sometimes it breaks.
printf '\n\033[1m$ # run handleCheckout until a run fails (each run is a recorded task)\033[0m\n'
for i in $(seq 1 80); do
  if ! ucode run handleCheckout "$REQUEST" >/dev/null 2>&1; then
    echo "run $i failed"
    break
  fi
done
FAILED="$(ucode task list --failed --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"

step ucode task list --failed
step ucode task show "$FAILED"
step ucode task replay "$FAILED"          # the same failure, exactly: every effect served from the log

step ucode add "$EXAMPLES/checkout_debug.py" --version debug
step ucode bind discountPercent@debug "$(hash_of discountPercentDebug@debug)"
step ucode task replay "$FAILED" --use discountPercent=debug   # its log lines show what happened
step ucode route set discountPercent --task "$FAILED" --version debug
step ucode task replay "$FAILED"          # later replays of this task use the debug version

step ucode add "$EXAMPLES/checkout_fix.py" --version fix
step ucode bind discountPercent@fix "$(hash_of discountPercentFixed@fix)"
# every recorded checkout; the failed ones now succeed: a divergence, so it exits 3 (what gates CI)
step ucode task replay --all --name handleCheckout --use discountPercent=fix || [ $? -eq 3 ]
step ucode bind discountPercent "$(hash_of discountPercentFixed@fix)"          # ship it: callers unchanged
step ucode run handleCheckout "$REQUEST"
step ucode history discountPercent

if [ -n "$KEEP" ]; then
  printf '\nThe project is kept in %s. To look at its store:\n  cd %q && ucode ls\n' "$WORK" "$WORK"
  printf '  (then e.g. ucode versions, ucode history, ucode task list, ucode view NAME)\n'
else
  printf '\n(%s and its store are removed now; run with KEEP=1 to keep them and look around)\n' "$WORK"
fi
