#!/bin/sh
# Install every build and test dependency of deckhand from Debian's archive.
# Idempotent: when everything is present it only runs dpkg-query (fast).
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libcurl4-openssl-dev libssl-dev libwebsockets-dev libcjson-dev libarchive-dev
libsqlite3-dev libexpat1-dev libcmocka-dev
python3 python3-pytest python3-botocore python3-boto3 python3-cryptography python3-websockets
awscli openssl ca-certificates dpkg-dev rpm procps time groff-base
lz4 zstd bzip2 xz-utils python3-apt
createrepo-c dnf
openssh-client openssh-server"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done

# Node.js and npm run a third-party Session Manager client from the npm
# registry in the tests; a machine that has them (say from NodeSource)
# keeps its own, otherwise Debian's are installed.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

if [ -z "$missing" ]; then
	echo "deps: all $(echo $PKGS | wc -w) packages present"
	exit 0
fi

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install packages (run as root or install:$missing)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
