# SPDX-License-Identifier: GPL-2.0-or-later
#
# A private apt setup for another Debian suite (trixie, bookworm-backports,
# sid), derived from the machine's configured binary entries.  Sourced,
# never run.
#
#   apt_suite_setup SUITE DIR
#       writes DIR/{sources.list,sources.list.d,lists,cache}, runs
#       'apt-get update' there and fills the array APT_SUITE_OPTS, to be
#       passed to apt-get / apt-cache:  apt-get "${APT_SUITE_OPTS[@]}" ...
#
# The machine's apt setup is never changed and no mirror is named here:
# every entry is one of the machine's own with its suite rewritten.  A
# release name (trixie) maps the whole family: bookworm -> trixie,
# bookworm-updates -> trixie-updates, bookworm-security -> trixie-security.
# Any other suite (bookworm-backports, sid) maps the plain codename only.
# Both deb and deb-src entries are written.

apt_suite_setup() {
    local suite=$1 dir=$2 codename f
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?}")
    rm -rf "$dir"
    mkdir -p "$dir/sources.list.d" "$dir/lists/partial" \
             "$dir/cache/archives/partial"

    # one-line format: one output line per mapped suite, deb and deb-src
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v c="$codename" -v t="$suite" '
            function map(s) {
                if (s == c) return t
                if (t ~ /^[a-z]+$/ && t != "sid" && index(s, c "-") == 1)
                    return t substr(s, length(c) + 1)
                return ""
            }
            $1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                s = map($(i + 1))
                if (s == "") next
                $(i + 1) = s; print; $1 = "deb-src"; print
            }' "$f"
    done > "$dir/sources.list"
    # deb822: keep the enabled binary stanzas, rewrite their Suites line
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v c="$codename" -v t="$suite" -v RS= -v ORS='\n\n' '
            function map(s) {
                if (s == c) return t
                if (t ~ /^[a-z]+$/ && t != "sid" && index(s, c "-") == 1)
                    return t substr(s, length(c) + 1)
                return ""
            }
            /(^|\n)Types:[^\n]*deb([ \n]|$)/ && !/(^|\n)Enabled:[ \t]*no/ {
                n = split($0, line, "\n"); out = ""; keep = 0
                for (j = 1; j <= n; j++) {
                    l = line[j]
                    if (l ~ /^#/) continue
                    if (l ~ /^Types:/) l = "Types: deb deb-src"
                    if (l ~ /^Suites:/) {
                        m = split(substr(l, 8), s, /[ \t]+/); l = "Suites:"
                        for (k = 1; k <= m; k++) {
                            x = map(s[k])
                            if (x != "") { l = l " " x; keep = 1 }
                        }
                    }
                    out = out l "\n"
                }
                if (keep) { sub(/\n$/, "", out); print out }
            }' "$f" > "$dir/sources.list.d/$(basename "$f")"
    done
    if ! grep -qs "$suite" "$dir/sources.list" "$dir"/sources.list.d/*; then
        echo "apt-suite: no apt entries for $codename to derive $suite from" >&2
        return 1
    fi
    APT_SUITE_OPTS=(
        -o "Dir::Etc::SourceList=$dir/sources.list"
        -o "Dir::Etc::SourceParts=$dir/sources.list.d"
        -o "Dir::State::Lists=$dir/lists"
        -o "Dir::State::Status=$dir/status"
        -o "Dir::Cache=$dir/cache"
        -o "Debug::NoLocking=1"
        -o "APT::Get::List-Cleanup=0"
    )
    : > "$dir/status"
    apt-get "${APT_SUITE_OPTS[@]}" -qq update >&2 || {
        echo "apt-suite: apt-get update of the derived $suite entries failed" >&2
        return 1
    }
}
