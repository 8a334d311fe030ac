#!/usr/bin/env bash
# Fetches Linux's rseq selftests from the newest linux-source-7.* package of
# Debian sid into DIR (default target/rseq-selftests):
#   DIR/src/tools/testing/selftests/rseq/     the tests, their Makefile and runners
#   DIR/src/tools/testing/selftests/kselftest.h
#   DIR/src/tools/include/, DIR/src/tools/arch/arm64/include/
#                                             what the Makefile puts on -I
#   DIR/src/include/uapi/linux/{auxvec,prctl,membarrier,rseq}.h
#                                             the uapi headers newer than the
#                                             cross toolchain's (AT_RSEQ_*)
#   DIR/VERSION                               "linux-source-7.N VERSION"
# kselftest_harness.h is left out on purpose: the tests are compiled against
# the project's own non-forking harness (apps/selftests/).
#
# apt runs with a private configuration under a scratch folder (its own
# sources list naming sid, its own lists and cache): the system's apt sources
# never gain sid and nothing is installed. Idempotent: does nothing when DIR
# holds a complete fetch; remove DIR to fetch the newest version again.
set -euo pipefail
# shellcheck source=xtask/sid-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/sid-apt.sh"
dir=$(absolute_dir "${1:-target/rseq-selftests}")
if [ -s "$dir/VERSION" ] && [ -f "$dir/src/tools/testing/selftests/rseq/Makefile" ]; then
    exit 0
fi

sid_apt "$(dpkg --print-architecture)"
echo "rseq selftests: reading Debian sid's package list (private apt configuration)"
apt-get "${apt_opts[@]}" update -qq
# linux-source-7.2, linux-source-7.3, ...: the highest minor version.
pkg=$(apt-cache "${apt_opts[@]}" search --names-only '^linux-source-7\.[0-9]+$' \
    | cut -d' ' -f1 | sort -V | tail -n1)
[ -n "$pkg" ] || { echo "no linux-source-7.* package in Debian sid" >&2; exit 1; }
version=$(apt-cache "${apt_opts[@]}" policy "$pkg" | sed -n 's/^ *Candidate: //p')
echo "rseq selftests: downloading $pkg $version"
(cd "$scratch/dl" && apt-get "${apt_opts[@]}" download -qq "$pkg")
dpkg -x "$scratch"/dl/*.deb "$scratch/root"
tarball=$(find "$scratch/root/usr/src" -maxdepth 1 -name 'linux-source-7.*.tar.xz' | head -n1)
[ -n "$tarball" ] || { echo "$pkg holds no linux-source-7.*.tar.xz" >&2; exit 1; }
top=$(basename "$tarball" .tar.xz)
echo "rseq selftests: extracting tools/testing/selftests/rseq and its headers from $(basename "$tarball")"
mkdir -p "$scratch/src"
tar -xJf "$tarball" -C "$scratch/src" --strip-components=1 --wildcards \
    "$top/tools/testing/selftests/rseq/*" \
    "$top/tools/testing/selftests/kselftest.h" \
    "$top/tools/include/*" \
    "$top/tools/arch/arm64/include/*" \
    "$top/include/uapi/linux/auxvec.h" \
    "$top/include/uapi/linux/prctl.h" \
    "$top/include/uapi/linux/membarrier.h" \
    "$top/include/uapi/linux/rseq.h"
[ -f "$scratch/src/tools/testing/selftests/rseq/Makefile" ] \
    || { echo "$pkg has no tools/testing/selftests/rseq/Makefile" >&2; exit 1; }
echo "$pkg $version" >"$scratch/src/VERSION"
# Complete, then moved into place: an interrupted fetch leaves no DIR.
rm -rf "$dir"
mkdir -p "$dir"
mv "$scratch/src" "$dir/src"
mv "$dir/src/VERSION" "$dir/VERSION"
echo "rseq selftests: $(cat "$dir/VERSION") in $dir"
