#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fork/fetch-peer-11.1: a suite that cannot be reached or does not serve
# 11.1.3 leaves build/peer-11.1/UNAVAILABLE with the reason and exits 0
# (tried in a scratch build directory); the fetched peer (make check
# fetches it first) is left alone by a second run, and its data
# directories and modules are those of its own root, never the machine's
# QEMU 7.2 ones.  TAP.
# check-timeout: 300

set -uo pipefail
TOP=${FORK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/fork/lib.sh"

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
echo "1..5"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1, 2: the fallback, in a scratch build directory
unavailable_case() {
    local name=$1 suite=$2 want=$3 out rc=0
    out=$(FORK_BUILD=$work/$suite FETCH_PEER_SUITE=$suite \
          "$TOP/fork/fetch-peer-11.1" 2>&1) || rc=$?
    local why
    why=$(cat "$work/$suite/peer-11.1/UNAVAILABLE" 2>/dev/null)
    if [ "$rc" -eq 0 ] && [[ $why == *"$want"* ]] &&
            [ ! -e "$work/$suite/peer-11.1/qemu-system-x86_64" ]; then
        ok "$name"
    elif [ "$rc" -eq 0 ] && [[ $why == *"cannot be reached"* ]]; then
        skip "$name" "Debian $suite cannot be reached from here"
    else
        not_ok "$name" "exit $rc, UNAVAILABLE: ${why:-none}" "$out"
    fi
}
unavailable_case "a suite that cannot be reached: UNAVAILABLE says so, exit 0" \
    no-such-suite "Debian no-such-suite cannot be reached"
# trixie ships 10.0: it does not serve 11.1.3
unavailable_case "a suite that does not serve 11.1.3: UNAVAILABLE says so, exit 0" \
    trixie "does not serve"

# 3-5: the peer make check fetched
peer=$BUILD/peer-11.1
exe=$peer/qemu-system-x86_64
if [ ! -x "$exe" ]; then
    why="$exe missing (make peer-11.1)"
    [ ! -f "$peer/UNAVAILABLE" ] || why=$(cat "$peer/UNAVAILABLE")
    for t in "a second fetch changes nothing" "its data directories are its own" \
             "its modules are its own"; do
        skip "$t" "$why"
    done
    exit 0
fi
stamp() { find "$peer" -maxdepth 1 -printf '%T@ %s %p\n' | sort; }
before=$(stamp)
out=$("$TOP/fork/fetch-peer-11.1" 2>&1)
after=$(stamp)
if [ "$before" = "$after" ] && [ -z "$out" ]; then
    ok "a second fetch changes nothing"
else
    not_ok "a second fetch changes nothing" "$out" \
        "$(diff <(echo "$before") <(echo "$after") | head -n 6)"
fi

root=$(realpath "$peer/root")
dirs=$("$exe" -L help 2>&1)
if [ -n "$dirs" ] && ! printf '%s\n' "$dirs" | grep -qv "^$root/"; then
    ok "its data directories are its own"
else
    not_ok "its data directories are its own" "$dirs"
fi

# usb-redir and usb-host are modules (qemu-system-common): listed, and
# no module failed to load ('failed to open module: ...: undefined symbol'
# is what another QEMU's module gives)
devs=$("$exe" -device help 2>&1)
if printf '%s\n' "$devs" | grep -q '"usb-redir"' &&
        printf '%s\n' "$devs" | grep -q '"usb-host"' &&
        ! printf '%s\n' "$devs" | grep -qi 'failed to open module'; then
    ok "its modules are its own"
else
    not_ok "its modules are its own" \
        "$(printf '%s\n' "$devs" | grep -v '^name ' | head -n 5)"
fi
