#!/bin/sh
# Run every libFuzzer binary in $1 for $2 seconds, seeded from
# tests/fuzz/corpus/<name>/ (copied, so the repo corpus is not modified).
set -eu
DIR=$1
SECS=${2:-15}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
p=0 f=0
for b in "$DIR"/fuzz_*; do
	[ -x "$b" ] || continue
	n=$(basename "$b")
	work=$(mktemp -d)
	seed="$ROOT/tests/fuzz/corpus/${n#fuzz_}"
	[ -d "$seed" ] && cp -r "$seed"/. "$work"/ 2>/dev/null || true
	if "$b" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 \
		-artifact_prefix="$DIR/$n-" \
		-print_final_stats=1 "$work" >"$DIR/$n.log" 2>&1; then
		p=$((p + 1))
		echo "fuzz: $n ok ($(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$DIR/$n.log" | grep -Eo '[0-9]+$') runs)"
	else
		f=$((f + 1))
		echo "fuzz: $n CRASHED"; tail -40 "$DIR/$n.log"
	fi
	rm -rf "$work"
done
echo "fuzz: $p passed, $f failed"
[ "$f" = 0 ]
