#!/bin/sh
# Run deckhand's test suites against the build in $1 and print pass/fail
# counts per suite and a closing "N passed, N failed" line.
#   tests/run.sh BUILD [unit|replay|integration]...
set -u
BUILD=${1:?usage: tests/run.sh BUILD [suite...]}
shift
SUITES=${*:-unit replay integration}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export DH_BUILD="$BUILD" DH_ROOT="$ROOT"
export CMOCKA_MESSAGE_OUTPUT=stdout
LOG="$BUILD/test-logs"
mkdir -p "$LOG"
total_pass=0
total_fail=0
failed_names=""

add() { total_pass=$((total_pass + $1)); total_fail=$((total_fail + $2)); }

run_unit() {
	p=0 f=0
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		if "$t" >"$LOG/$n.log" 2>&1; then rc=0; else rc=$?; fi
		tp=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$LOG/$n.log" | tail -1)
		tf=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$LOG/$n.log" | tail -1)
		tp=${tp:-0} tf=${tf:-0}
		if [ "$rc" != 0 ] && [ "$tf" = 0 ]; then tf=1; fi
		if [ "$tf" != 0 ]; then
			failed_names="$failed_names $n"
			echo "unit: FAIL $n (exit $rc)"; tail -30 "$LOG/$n.log"
		fi
		p=$((p + tp)) f=$((f + tf))
	done
	echo "unit: $p passed, $f failed"
	add $p $f
}

run_replay() {
	p=0 f=0
	for t in "$BUILD"/replay/fuzz_*; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		dir="$ROOT/tests/fuzz/corpus/${n#fuzz_}"
		if [ -d "$dir" ] && "$t" "$dir" >"$LOG/$n.log" 2>&1; then
			p=$((p + 1))
		else
			f=$((f + 1)); failed_names="$failed_names $n"
			echo "replay: FAIL $n"; tail -20 "$LOG/$n.log"
		fi
	done
	echo "replay: $p passed, $f failed"
	add $p $f
}

run_integration() {
	ls "$ROOT"/tests/integration/test_*.py >/dev/null 2>&1 || {
		echo "integration: 0 passed, 0 failed"; return; }
	cd "$ROOT"
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration \
		>"$LOG/integration.log" 2>&1
	rc=$?
	cat "$LOG/integration.log" | tail -40
	p=$(grep -Eo '[0-9]+ passed' "$LOG/integration.log" | tail -1 | cut -d' ' -f1)
	f=$(grep -Eo '[0-9]+ (failed|error)' "$LOG/integration.log" | \
		awk '{s+=$1} END {print s+0}')
	p=${p:-0}
	if [ "$rc" != 0 ] && [ "$rc" != 5 ] && [ "$f" = 0 ]; then f=1; fi
	[ "$f" = 0 ] || failed_names="$failed_names integration"
	echo "integration: $p passed, $f failed"
	add "$p" "$f"
}

for s in $SUITES; do
	case "$s" in
	unit) run_unit ;;
	replay) run_replay ;;
	integration) run_integration ;;
	*) echo "unknown suite $s" >&2; exit 2 ;;
	esac
done

[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
