#!/usr/bin/env bash
# The design memo's walkthrough (section 10), end to end, on a fresh embedded store.
#   v1 -> run -> add v2 -> bind lookupUser@v2 -> run v2 -> bind in the default version -> run -> undo -> run
# It works in a new temporary directory, so the store it makes (.ucode/ there) is fresh every time.
set -euo pipefail
EXAMPLES="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
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
