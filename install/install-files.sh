#!/bin/sh
# Install deckhand's built programs, config, units and man pages under FHS
# paths below DESTDIR.   install/install-files.sh BUILD DESTDIR PREFIX [agent|gateway|all]
set -eu
BUILD=$1
DESTDIR=${2:-}
PREFIX=${3:-/usr}
WHAT=${4:-all}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

inst() { install -D -m "$1" "$2" "$DESTDIR$3"; }

if [ "$WHAT" = all ] || [ "$WHAT" = agent ]; then
	if [ -x "$BUILD/deckhand-agent" ]; then
		inst 0755 "$BUILD/deckhand-agent" "$PREFIX/sbin/deckhand-agent"
	fi
	if [ -x "$BUILD/deckhand" ]; then
		inst 0755 "$BUILD/deckhand" "$PREFIX/bin/deckhand"
		# `aws ssm start-session` runs session-manager-plugin from PATH;
		# this link (off PATH, so a real plugin is never shadowed) lets
		# operators put deckhand in its place
		install -d -m 0755 "$DESTDIR$PREFIX/lib/deckhand"
		ln -sfn "$PREFIX/bin/deckhand" \
		    "$DESTDIR$PREFIX/lib/deckhand/session-manager-plugin"
	fi
	if [ ! -e "$DESTDIR/etc/deckhand/agent.json" ]; then
		inst 0644 "$ROOT/packaging/agent.json" /etc/deckhand/agent.json
	fi
	inst 0644 "$ROOT/packaging/systemd/deckhand-agent.service" \
		/lib/systemd/system/deckhand-agent.service
	inst 0644 "$ROOT/packaging/man/deckhand-agent.8" "$PREFIX/share/man/man8/deckhand-agent.8"
	inst 0644 "$ROOT/packaging/man/deckhand.1" "$PREFIX/share/man/man1/deckhand.1"
	install -d -m 0700 "$DESTDIR/var/lib/deckhand"
fi
if [ "$WHAT" = all ] || [ "$WHAT" = gateway ]; then
	if [ -x "$BUILD/deckhand-gateway" ]; then
		inst 0755 "$BUILD/deckhand-gateway" "$PREFIX/sbin/deckhand-gateway"
	fi
	inst 0644 "$ROOT/packaging/systemd/deckhand-gateway.service" \
		/lib/systemd/system/deckhand-gateway.service
	inst 0644 "$ROOT/packaging/man/deckhand-gateway.8" "$PREFIX/share/man/man8/deckhand-gateway.8"
fi
gzip -9nf "$DESTDIR$PREFIX"/share/man/man*/deckhand* 2>/dev/null || true
echo "installed into ${DESTDIR:-/}"
