#!/usr/bin/env bash
# An arm64 Node.js to run the linux-arm64 prebuilt addon under qemu-user on an x86-64 machine:
# Debian's nodejs for arm64 and the libraries it loads, unpacked (not installed) into a root
# folder that `qemu-aarch64-static -L <root>` reads them from.
#
#   scripts/arm64-node.sh .cache/arm64-node       (as root: it adds the arm64 architecture to apt)
#   qemu-aarch64-static -L .cache/arm64-node .cache/arm64-node/usr/bin/node -e 'console.log(process.arch)'
#
# Debian 12's arm64 nodejs is version 18, older than the Node.js the package asks for (>= 20);
# the addon speaks Node-API (version 9 there), and the library runs on it for this test.
set -euo pipefail
root="$(realpath -m "${1:?usage: scripts/arm64-node.sh <folder>}")"
if [ -x "$root/usr/bin/node" ]; then
  echo "arm64 Node.js already in $root"
  exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update
fi
debs="$(mktemp -d)"
trap 'rm -rf "$debs"' EXIT
# nodejs and every arm64 library below it; the JavaScript packages Debian's Node loads its
# externalized builtins from (architecture "all") are named by hand.
mapfile -t packages < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances nodejs:arm64 | grep -E '^[a-z0-9].*:arm64$' | sort -u)
packages+=(node-acorn node-cjs-module-lexer node-undici node-busboy)
(cd "$debs" && apt-get download "${packages[@]}")
mkdir -p "$root"
for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
echo "arm64 Node.js in $root: $(qemu-aarch64-static -L "$root" "$root/usr/bin/node" --version)"
