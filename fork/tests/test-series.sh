#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The submission series is the fork: 'make series' output applied with
# 'git am' on a pristine base reproduces build/src exactly, and a patch that
# no longer applies stops the tree from being laid, naming patch and file.
# check-timeout: 300

set -uo pipefail
TOP=${FORK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/fork/lib.sh"

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
echo "1..5"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if out=$("$TOP/fork/series" "$work/series" 2>&1); then
    ok "make series writes the series and checkpatch reports no errors"
else
    not_ok "make series writes the series and checkpatch reports no errors" "$out"
fi

mkdir -p "$work/tree"
rsync -a "$BASE/tree/" "$work/tree/"
(
    cd "$work/tree" && git init -q && git add -A &&
    git -c user.name=t -c user.email=t@t commit -q -m base &&
    git -c user.name=t -c user.email=t@t am -q "$work"/series/*.patch
) > "$work/am.log" 2>&1
if [ $? -eq 0 ]; then
    ok "the series applies with git am on the pristine base"
else
    not_ok "the series applies with git am on the pristine base" "$(cat "$work/am.log")"
fi

# .git-submodule-status: written by QEMU's configure in a development tree;
# MAINTAINERS: only the series names our files there (checked below)
diffs=$(diff -rq --exclude=.git --exclude=.git-submodule-status \
             --exclude=MAINTAINERS "$work/tree" "$SRC" 2>&1)
if [ -z "$diffs" ]; then
    ok "base + series reproduces build/src exactly, MAINTAINERS apart"
else
    not_ok "base + series reproduces build/src exactly, MAINTAINERS apart" "$diffs"
fi

# The series adds one MAINTAINERS section, which names every file of ours
added=$(diff "$BASE/tree/MAINTAINERS" "$work/tree/MAINTAINERS")
unnamed=$(comm -23 <(overlay_files) \
               <(printf '%s\n' "$added" | sed -n 's/^> F: //p' | sort))
if [ "$(printf '%s\n' "$added" | grep -c '^[0-9]')" -eq 1 ] &&
   ! printf '%s\n' "$added" | grep -q '^<' && [ -z "$unnamed" ]; then
    ok "the series' MAINTAINERS section names every file of ours"
else
    not_ok "the series' MAINTAINERS section names every file of ours" \
        "not named: $(echo $unnamed)" "$added"
fi

# A series whose patch does not apply: laying the tree fails and says which.
fake=$work/fake
mkdir -p "$fake/top/patches" "$fake/build"
ln -s "$BASE" "$fake/build/base"
cat > "$fake/top/patches/0001-broken.patch" <<'PATCH'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Test <test@localhost>
Subject: [PATCH] broken

---
diff --git a/hw/isa/lpc_ich9.c b/hw/isa/lpc_ich9.c
--- a/hw/isa/lpc_ich9.c
+++ b/hw/isa/lpc_ich9.c
@@ -1,3 +1,3 @@
-this line is not in the base
+neither is this one
 nor this
 nor that
PATCH
echo 0001-broken.patch > "$fake/top/patches/series"
msg=$(TOP=$fake/top FORK_BUILD=$fake/build "$TOP/fork/lay-tree" "$fake/build/src" 2>&1)
rc=$?
if [ $rc -ne 0 ] && printf '%s' "$msg" | grep -q 'patches/0001-broken.patch does not apply to the base: hw/isa/lpc_ich9.c'; then
    ok "a patch that does not apply fails with the patch and the file named"
else
    not_ok "a patch that does not apply fails with the patch and the file named" "rc=$rc" "$msg"
fi
