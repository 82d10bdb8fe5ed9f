#!/bin/sh
# Reject banned unbounded/unsafe functions in project C sources (curl's
# checksrc idea): sprintf, strcpy, strcat, gets, atoi, strtok, system.
set -eu
cd "$(dirname "$0")/.."
bad=$(grep -nE '(^|[^_a-z])(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok|system)\(' \
	$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h') \
	2>/dev/null | grep -v 'check-src: allow' || true)
if [ -n "$bad" ]; then
	echo "check-src: banned functions used:"
	echo "$bad"
	exit 1
fi
echo "check-src: ok"
