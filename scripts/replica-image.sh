#!/usr/bin/env bash
# Builds the replica image: a minimal root filesystem holding only the awan binary (at /usr/local/bin/awan)
# and the shared libraries it loads, taken from this Debian system, imported with podman and pushed to a
# registry (scripts/registry-up.sh). Its tag is the binary's content hash, so a rebuilt binary gets a new
# image and the same binary the same one. Prints the image reference, for a Service manifest's `image`.
#   scripts/replica-image.sh REGISTRY [BINARY=build/release/apps/awan] [NAME=awan/replica]
set -euo pipefail
REGISTRY=${1:?usage: replica-image.sh REGISTRY [BINARY] [NAME]}
BIN=${2:-build/release/apps/awan}
NAME=${3:-awan/replica}
command -v podman > /dev/null || { echo "replica-image: podman not found: run scripts/install-deps.sh" >&2; exit 2; }
[ -x "$BIN" ] || { echo "replica-image: $BIN is not an executable (build awan first)" >&2; exit 2; }
# The `awan` front hands every command but a submit to awan-core beside it: the image holds awan-core, as awan.
if [ -x "$(dirname "$BIN")/awan-core" ] && [ "$(basename "$BIN")" = awan ]; then BIN="$(dirname "$BIN")/awan-core"; fi
TAG=$(sha256sum "$BIN" | cut -c1-12)
REF="$REGISTRY/$NAME:$TAG"
WORK=$(mktemp -d /tmp/awan-image.XXXXXX)
trap 'podman --root "$WORK/store" --runroot "$WORK/run" --cgroup-manager cgroupfs rmi -a -f > /dev/null 2>&1 || true;
      rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"
mkdir -p "$ROOT/usr/local/bin" "$ROOT/tmp" "$ROOT/etc"
chmod 1777 "$ROOT/tmp"
cp "$BIN" "$ROOT/usr/local/bin/awan"
strip "$ROOT/usr/local/bin/awan" 2> /dev/null || true
# The libraries and the dynamic loader, at the paths the binary asks for.
ldd "$BIN" | awk '/=> \// {print $3} /^[ \t]*\// {print $1}' | sort -u | while read -r lib; do
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done
printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOT/etc/group"
tar -C "$ROOT" -cf "$WORK/rootfs.tar" .
P=(podman --root "$WORK/store" --runroot "$WORK/run" --cgroup-manager cgroupfs --events-backend none)
"${P[@]}" import --quiet "$WORK/rootfs.tar" "localhost/$NAME:$TAG" > /dev/null
TLS=()
case "$REGISTRY" in 127.0.0.1:* | localhost:* | 127.0.0.1 | localhost) TLS=(--tls-verify=false) ;; esac
"${P[@]}" push --quiet "${TLS[@]}" "localhost/$NAME:$TAG" "docker://$REF" > /dev/null
echo "$REF"
