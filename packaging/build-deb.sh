#!/bin/sh
# Build deckhand-agent_<v>_<arch>.deb and deckhand-gateway_<v>_<arch>.deb
# with dpkg-deb into $BUILD/deb.   packaging/build-deb.sh BUILD VERSION
set -eu
BUILD=$1
VERSION=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARCH=$(dpkg --print-architecture)
OUT="$BUILD/deb"
mkdir -p "$OUT"

build_one() {
	name=$1 what=$2 deps=$3 desc=$4
	stage=$(mktemp -d)
	chmod 0755 "$stage"
	sh "$ROOT/install/install-files.sh" "$BUILD" "$stage" /usr "$what" >/dev/null
	strip --strip-unneeded "$stage"/usr/sbin/* "$stage"/usr/bin/* 2>/dev/null || true
	mkdir -p "$stage/DEBIAN"
	size=$(du -sk "$stage" | cut -f1)
	cat >"$stage/DEBIAN/control" <<CTL
Package: $name
Version: $VERSION
Architecture: $ARCH
Maintainer: deckhand developers <deckhand@localhost>
Installed-Size: $size
Depends: $deps
Section: admin
Priority: optional
Description: $desc
CTL
	if [ "$what" = agent ]; then
		echo /etc/deckhand/agent.json >"$stage/DEBIAN/conffiles"
	fi
	cat >"$stage/DEBIAN/postinst" <<'PI'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
PI
	chmod 0755 "$stage/DEBIAN/postinst"
	dpkg-deb --root-owner-group --build "$stage" "$OUT/${name}_${VERSION}_${ARCH}.deb" >/dev/null
	rm -rf "$stage"
	echo "deb: $OUT/${name}_${VERSION}_${ARCH}.deb"
}

build_one deckhand-agent agent \
	"libc6, libcurl4, libssl3, libwebsockets17, libcjson1, libarchive13, libexpat1" \
	"Systems Manager compatible host agent and operator CLI"
build_one deckhand-gateway gateway \
	"libc6, libssl3, libwebsockets17, libcjson1, libarchive13, libsqlite3-0, libcurl4, libexpat1" \
	"Self-hosted Systems Manager compatible control plane"
