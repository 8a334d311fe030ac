#!/usr/bin/env bash
# Fetches the kernel image of Debian sid's newest arm64 Linux into DIR
# (default target/linux-kernel), the reference `cargo xtask bench` runs the
# benchmark program on:
#   DIR/Image     the kernel (usr/lib/modules/VER/vmlinuz of the package)
#   DIR/VERSION   "linux-binary-VER VERSION", e.g.
#                 "linux-binary-7.2.13+deb14-arm64 7.2.13-1"
# Debian's 7.x kernels are split: linux-image-arm64 depends on
# linux-image-VER-arm64, a meta package whose linux-binary-VER-arm64 holds
# the image.
#
# apt runs with a private configuration under a scratch folder (its own
# sources list naming sid for arm64, its own lists and cache): the system's
# apt sources never gain sid and nothing is installed. Idempotent: does
# nothing when DIR holds a complete fetch; remove DIR to fetch the newest
# version again.
set -euo pipefail
# shellcheck source=xtask/sid-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/sid-apt.sh"
dir=$(absolute_dir "${1:-target/linux-kernel}")
if [ -s "$dir/VERSION" ] && [ -s "$dir/Image" ]; then
    exit 0
fi

sid_apt arm64
echo "linux kernel: reading Debian sid's arm64 package list (private apt configuration)"
apt-get "${apt_opts[@]}" update -qq
# linux-image-arm64 -> linux-image-VER-arm64 -> linux-binary-VER-arm64.
image=$(apt-cache "${apt_opts[@]}" depends linux-image-arm64 \
    | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-arm64\)$/\1/p' | head -n1)
[ -n "$image" ] || { echo "linux-image-arm64 names no linux-image-VER-arm64" >&2; exit 1; }
pkg=linux-binary-${image#linux-image-}
version=$(apt-cache "${apt_opts[@]}" policy "$pkg" | sed -n 's/^ *Candidate: //p')
[ -n "$version" ] && [ "$version" != "(none)" ] \
    || { echo "no $pkg in Debian sid (the kernel image package of $image)" >&2; exit 1; }
echo "linux kernel: downloading $pkg $version"
(cd "$scratch/dl" && apt-get "${apt_opts[@]}" download -qq "$pkg")
dpkg -x "$scratch"/dl/*.deb "$scratch/root"
vmlinuz=$(find "$scratch/root/usr/lib/modules" -mindepth 2 -maxdepth 2 -name vmlinuz | head -n1)
[ -n "$vmlinuz" ] || { echo "$pkg holds no usr/lib/modules/*/vmlinuz" >&2; exit 1; }
mkdir -p "$scratch/out"
mv "$vmlinuz" "$scratch/out/Image"
echo "$pkg $version" >"$scratch/out/VERSION"
# Complete, then moved into place: an interrupted fetch leaves no DIR.
rm -rf "$dir"
mv "$scratch/out" "$dir"
echo "linux kernel: $(cat "$dir/VERSION") in $dir"
