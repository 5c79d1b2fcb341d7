#!/usr/bin/env bash
# Debugging by replay + swap (the design memo's step 7), end to end, on a fresh embedded store:
#   a checkout fails now and then -> find the failed task -> replay it exactly -> replay it with one
#   function swapped for a debug version that logs -> keep that swap for the task -> replay every recorded
#   checkout against the fix (a regression test from real traffic) -> ship the fix by rebinding one name.
# No redeploy, no code change to the callers, no global logging. Works in a new temporary directory.
set -euo pipefail
EXAMPLES="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
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
