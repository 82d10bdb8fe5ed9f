#!/bin/sh
# Debian package scan (issue 5 targets), measured in one run on this host:
#   wall time and peak RSS of `apt list --upgradable` (the baseline) and of
#   `deckhand scan --upgradable` (same result set) and `deckhand scan` (with
#   the default baseline evaluation), best of N runs each, and the ratio;
#   then `deckhand scan` on a synthetic 5,000-package root (three lz4 lists,
#   15,000 index stanzas) built by the integration test's generator.
#   bench/scan.sh [BUILD] [RUNS]
set -eu
BUILD=${1:-build/release}
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
DH="$BUILD/deckhand"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export LC_ALL=C

# best (lowest) wall seconds and the peak RSS of that run: "secs kB"
measure() {
	best=""
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		/usr/bin/time -f '%e %M' -o "$W/t" "$@" >"$W/out" 2>/dev/null || true
		cur=$(cat "$W/t" | tail -1)
		if [ -z "$best" ] || awk -v a="$cur" -v b="$best" \
		    'BEGIN {split(a,x," "); split(b,y," "); exit !(x[1] < y[1])}'; then
			best=$cur
		fi
		i=$((i + 1))
	done
	echo "$best"
}

if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
	echo "no apt lists on this host: run apt-get update first" >&2
	exit 1
fi
echo "host: $(grep -c '^Package:' /var/lib/dpkg/status) dpkg records," \
	"$(ls /var/lib/apt/lists/ | grep -c _Packages) Packages indexes," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
APT=$(measure apt list --upgradable)
n_apt=$(grep -c 'upgradable from' "$W/out" || true)
UPG=$(measure "$DH" scan --upgradable --quiet)
n_dh=$(grep -c 'upgradable from' "$W/out" || true)
FULL=$(measure "$DH" scan --quiet)
report() {
	printf '%-34s %7.3f s  %7d kB peak RSS  %s\n' "$1" \
		"$(echo "$2" | cut -d' ' -f1)" "$(echo "$2" | cut -d' ' -f2)" "$3"
}
report "apt list --upgradable" "$APT" "($n_apt upgradable)"
report "deckhand scan --upgradable" "$UPG" "($n_dh upgradable)"
report "deckhand scan (default baseline)" "$FULL" ""
awk -v a="$APT" -v d="$UPG" -v f="$FULL" 'BEGIN {
	split(a, x, " "); split(d, y, " "); split(f, z, " ");
	if (y[1] > 0) printf "ratio: deckhand --upgradable is %.1fx faster than apt (target >= 10x)\n", x[1] / y[1];
	else printf "ratio: deckhand --upgradable below the 10 ms resolution of time(1) (apt %.2f s)\n", x[1];
	if (z[1] > 0) printf "ratio: deckhand scan with evaluation is %.1fx faster than apt\n", x[1] / z[1];
	printf "peak RSS: deckhand %d kB vs apt %d kB (target <= 10240 kB)\n", y[2], x[2] }'

cd "$ROOT/tests/integration"
/usr/bin/python3 -c "
import pathlib, sys
sys.path.insert(0, '.')
from test_scan_deb import synthetic_root
synthetic_root(pathlib.Path(sys.argv[1]))
" "$W/synth"
SYN=$(measure "$DH" scan --root "$W/synth" --quiet)
n_syn=$("$DH" scan --root "$W/synth" --upgradable | wc -l)
report "deckhand scan, 5,000-package root" "$SYN" "($n_syn upgradable; target <= 0.5 s)"
