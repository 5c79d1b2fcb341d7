#!/usr/bin/env bash
# The walkthrough: swapping one function under its callers, end to end, on a fresh embedded store.
#   add app.py (v1) -> run -> add app_v2.py into v2 -> bind lookupUser@v2 to lookupUserV2 -> run v2 (the new
#   lookupUser runs, handleRequest is not re-added) -> bind it in the default version -> run -> undo -> run (v1)
# It works in a new temporary directory, so the store it makes (.ucode/ there) is fresh every time.
# Usage: bash examples/walkthrough.sh            (KEEP=1 bash examples/walkthrough.sh keeps the store)
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

echo "ucode walkthrough in $WORK (store: $WORK/.ucode)"
step ucode add "$EXAMPLES/app.py"
step ucode run handleRequest '{"user_id": 1}'
step ucode view lookupUser
step ucode add "$EXAMPLES/app_v2.py" --version v2
HASH="$(ucode view lookupUserV2@v2 --json | python3 -c 'import json,sys; print("#" + json.load(sys.stdin)["hash"][:10])')"
step ucode bind lookupUser@v2 "$HASH"
step ucode run handleRequest '{"user_id": 1}' --version v2
step ucode diff v1 v2
step ucode bind lookupUser "$HASH"
step ucode run handleRequest '{"user_id": 2}'
step ucode history lookupUser
step ucode undo
step ucode run handleRequest '{"user_id": 2}'
step ucode verify

if [ -n "$KEEP" ]; then
  printf '\nThe project is kept in %s. To look at its store:\n  cd %q && ucode ls\n' "$WORK" "$WORK"
  printf '  (then e.g. ucode versions, ucode history, ucode task list, ucode view NAME)\n'
else
  printf '\n(%s and its store are removed now; run with KEEP=1 to keep them and look around)\n' "$WORK"
fi
