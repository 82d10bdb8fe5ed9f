#!/bin/sh
# Install the deckhand agent on this host, register it with a hybrid
# activation and enable the systemd service.
#   install/install.sh --code CODE --id ID --region REGION [--endpoint URL] [--ca FILE]
# Run from a built source tree (make) or next to a deckhand-agent .deb.
set -eu
CODE= ID= REGION= ENDPOINT= CA=
while [ $# -gt 0 ]; do
	case "$1" in
	--code) CODE=$2; shift 2 ;;
	--id) ID=$2; shift 2 ;;
	--region) REGION=$2; shift 2 ;;
	--endpoint) ENDPOINT=$2; shift 2 ;;
	--ca) CA=$2; shift 2 ;;
	-h|--help) sed -n '2,6p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
if [ -z "$CODE" ] || [ -z "$ID" ] || [ -z "$REGION" ]; then
	echo "install.sh: --code, --id and --region are required" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "install.sh: must run as root" >&2
	exit 1
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
deb=$(ls "$ROOT"/deckhand-agent_*.deb "$ROOT"/build/release/deb/deckhand-agent_*.deb 2>/dev/null | head -1 || true)
if [ -n "$deb" ]; then
	apt-get install -y "$deb"
elif [ -x "$ROOT/build/release/deckhand-agent" ]; then
	sh "$ROOT/install/install-files.sh" "$ROOT/build/release" "" /usr agent
else
	echo "install.sh: no package or build found; run 'make' or 'make deb' first" >&2
	exit 1
fi
set -- register --code "$CODE" --id "$ID" --region "$REGION"
[ -n "$ENDPOINT" ] && set -- "$@" --endpoint "$ENDPOINT"
if [ -n "$CA" ]; then
	install -D -m 0644 "$CA" /etc/deckhand/ca.pem
	set -- "$@" --ca /etc/deckhand/ca.pem
fi
/usr/sbin/deckhand-agent "$@"
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable --now deckhand-agent.service
	echo "install.sh: deckhand-agent enabled and started"
else
	echo "install.sh: registered; systemd is not running, start with: deckhand-agent run"
fi
