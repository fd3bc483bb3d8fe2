# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared definitions of the fork's scripts: where things live and how we talk.
# Sourced, never run.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${FORK_BUILD:-$TOP/build}
BASE=$BUILD/base            # fork/fetch-base output: tree/, VERSION
SRC=$BUILD/src              # base + series + our files
QEMU_BUILD=$BUILD/qemu      # QEMU's build directory
PATCHES=$TOP/patches
MESON_DIR=$BUILD/tools/meson  # bookworm-backports' meson (fork/fetch-debs)
PYCOTAP_DIR=$BUILD/tools/pycotap  # and its python3-pycotap

# The top-level directories that hold our own files at their QEMU paths.
OVERLAY_DIRS="accel docs hw include migration monitor qapi softmmu target tests"

step() { printf '==> %s\n' "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# Our own files, relative to TOP, one per line.
overlay_files() {
    local d
    if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
        # Tracked plus new, not ignored: a file being written counts too.
        # shellcheck disable=SC2086
        git -C "$TOP" ls-files --cached --others --exclude-standard \
            -- $OVERLAY_DIRS | while read -r f; do
                [ -f "$TOP/$f" ] && echo "$f"
            done | sort -u
    else
        for d in $OVERLAY_DIRS; do
            [ -d "$TOP/$d" ] && (cd "$TOP" && find "$d" -type f)
        done | sort
    fi
}

# The patch files of the series, in order, one path per line.
series_patches() {
    [ -f "$PATCHES/series" ] || return 0
    grep -v '^[[:space:]]*#' "$PATCHES/series" | awk 'NF { print $1 }' |
        while read -r p; do
            [ -f "$PATCHES/$p" ] || die "patches/series names $p, which is missing"
            echo "$PATCHES/$p"
        done
}

# Git plumbing shared by devtree and series: both build a history on top of
# the base without ever checking it out (the base is 235 MB), working on the
# index of the repository named by GIT_DIR.
git_identity() {
    export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-$(git config user.name || echo "Q35 SMM fork")}
    export GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-$(git config user.email || echo "fork@localhost")}
}

# commit_base GIT_DIR: a new repository whose first commit is the base,
# tagged fork-base.
commit_base() {
    local gd=$1 version
    version=$(cat "$BASE/VERSION")
    rm -rf "$gd"
    git init -q --bare "$gd"
    git --git-dir="$gd" config core.bare false
    git --git-dir="$gd" --work-tree="$BASE/tree" add -A
    GIT_AUTHOR_NAME="Debian QEMU maintainers" \
    GIT_AUTHOR_EMAIL="pkg-qemu-devel@lists.alioth.debian.org" \
    git --git-dir="$gd" commit -q -m "base: Debian qemu $version (QEMU $(cat "$BASE/tree/VERSION"))

Pristine base of the fork: Debian trixie's qemu source package,
orig tarball plus Debian's patch queue, without debian/." 
    git --git-dir="$gd" tag fork-base
}

# commit_patch GIT_DIR PATCH: apply a format-patch file to the index and
# commit it with the patch's own author, date and message.
commit_patch() {
    local gd=$1 p=$2 tmp out
    tmp=$(mktemp -d)
    git mailinfo "$tmp/msg" "$tmp/diff" < "$p" > "$tmp/info"
    if ! out=$(git --git-dir="$gd" apply --cached --whitespace=nowarn "$tmp/diff" 2>&1); then
        printf '%s\n' "$out" >&2
        rm -rf "$tmp"
        die "${p#$TOP/} does not apply"
    fi
    (
        GIT_AUTHOR_NAME=$(sed -n 's/^Author: //p' "$tmp/info")
        GIT_AUTHOR_EMAIL=$(sed -n 's/^Email: //p' "$tmp/info")
        GIT_AUTHOR_DATE=$(sed -n 's/^Date: //p' "$tmp/info")
        export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_AUTHOR_DATE
        { sed -n 's/^Subject: //p' "$tmp/info"; echo; cat "$tmp/msg"; } |
            git --git-dir="$gd" commit -q --cleanup=strip -F -
    )
    rm -rf "$tmp"
}
