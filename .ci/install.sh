#!/usr/bin/env bash
# Installs everything rseq-os needs on a fresh Debian bookworm machine that has
# rustup, gcc, python3 and apt. Idempotent: each step is skipped when done.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_qemu() {
    if ! command -v qemu-system-aarch64 >/dev/null; then return 0; fi
    # raspi4b needs QEMU >= 9.0 (Debian bookworm ships 7.2).
    local major
    major=$(qemu-system-aarch64 --version | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
    [ "${major:-0}" -lt 9 ]
}

if need_qemu; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports \
        qemu-system-arm >/dev/null
fi
qemu-system-aarch64 --version | head -1

# The toolchain, target and components are pinned in rust-toolchain.toml;
# `rustup show` installs whatever is missing.
cd "$(dirname "$0")/.."
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
rustup toolchain install "$toolchain" --profile minimal \
    --target aarch64-unknown-none-softfloat --target aarch64-unknown-none \
    --component llvm-tools --component rust-src --component clippy --component rustfmt
rustc --version

if ! command -v just >/dev/null; then
    pip install -q rust-just || cargo install --locked just
fi
just --version

# Raspberry Pi 4 firmware and DTB (QEMU raspi4b needs the DTB; the SD card
# image needs all of it). xtask fetches them on demand too.
bash xtask/fetch-rpi4-firmware.sh target/rpi4-firmware
