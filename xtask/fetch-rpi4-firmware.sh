#!/usr/bin/env bash
# Fetches what the Raspberry Pi 4 needs besides our kernel, from Debian's
# packages, into DIR (default target/rpi4-firmware):
#   start4.elf, fixup4.dat   from raspi-firmware (bookworm, non-free-firmware)
#   bcm2711-rpi-4-b.dtb      from the arm64 kernel package that
#                            linux-image-arm64:arm64 depends on
# Needs apt (root or sudo): it adds the arm64 architecture and the
# non-free-firmware component if missing. Packages are only downloaded and
# unpacked into a scratch folder, never installed.
set -euo pipefail
dir=${1:-target/rpi4-firmware}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -s "$dir/start4.elf" ] && [ -s "$dir/fixup4.dat" ] && [ -s "$dir/bcm2711-rpi-4-b.dtb" ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

changed=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
    changed=1
fi
if ! grep -rqs "non-free-firmware" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    $SUDO tee /etc/apt/sources.list.d/rseq-os-firmware.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    changed=1
fi
if [ "$changed" = 1 ] || ! apt-cache show raspi-firmware >/dev/null 2>&1 \
    || ! apt-cache show linux-image-arm64:arm64 >/dev/null 2>&1; then
    $SUDO apt-get update -qq
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
chmod 777 "$scratch"   # apt's download user must be able to write here
kpkg=$(apt-cache depends linux-image-arm64:arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
[ -n "$kpkg" ] || { echo "cannot find the versioned arm64 kernel package" >&2; exit 1; }
(cd "$scratch" && apt-get download -qq raspi-firmware "$kpkg" 2>/dev/null)
for deb in "$scratch"/*.deb; do dpkg -x "$deb" "$scratch/root"; done
cp "$scratch/root/usr/lib/raspi-firmware/start4.elf" "$scratch/root/usr/lib/raspi-firmware/fixup4.dat" "$dir/"
dtb=$(find "$scratch/root/usr/lib" -path '*/broadcom/bcm2711-rpi-4-b.dtb' | head -n1)
[ -n "$dtb" ] || { echo "bcm2711-rpi-4-b.dtb not found in $kpkg" >&2; exit 1; }
cp "$dtb" "$dir/"
echo "rpi4 firmware: $(ls "$dir" | tr '\n' ' ')(from raspi-firmware and $kpkg)"
