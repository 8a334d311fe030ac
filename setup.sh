#!/usr/bin/env bash
# Sets up a Debian bookworm machine for rseq-os: QEMU >= 9, gdb-multiarch,
# the aarch64 Linux C cross toolchain, `just`, the pinned Rust toolchain, the
# Raspberry Pi 4 firmware, Linux's rseq selftests and the host tool (xtask).
#
#   bash setup.sh        install whatever is missing, change nothing else
#   bash setup.sh qemu   the same, then `just qemu` (boots the hello app)
#
# Needs rustup, git, gcc, python3 and apt-get; root or sudo for apt. Says what
# it changes in apt, and why, before changing it. Idempotent: a step that is
# already done prints "ok: ..." and changes nothing.
#
# Environment: CARGO_HOME (where `just` is linked, default ~/.cargo),
# RSEQ_OS_VENV (the Python venv `just` is installed in, default
# $XDG_DATA_HOME/rseq-os/venv, i.e. ~/.local/share/rseq-os/venv).
set -euo pipefail
cd "$(dirname "$0")"

ok() { printf 'ok: %s\n' "$*"; }
say() { printf '%s\n' "$*"; }
die() {
    printf '\nsetup.sh: %s\n' "$*" >&2
    exit 1
}

boot=0
case "${1:-}" in
    "") ;;
    qemu) boot=1 ;;
    *) die "unknown argument '$1'. Usage: bash setup.sh [qemu]" ;;
esac
[ $# -le 1 ] || die "one argument at most. Usage: bash setup.sh [qemu]"

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"

# --- prerequisites: checked, never installed -------------------------------

if ! command -v rustup >/dev/null || ! command -v cargo >/dev/null; then
    if [ -x "$cargo_bin/rustup" ]; then
        die "rustup is installed in $cargo_bin, but that directory is not on
PATH in this shell. Run   . \"${CARGO_HOME:-\$HOME/.cargo}/env\"   (or open a new
login shell), then run   bash setup.sh   again."
    fi
    die "rustup is not installed. rseq-os pins its Rust version, targets and
components in rust-toolchain.toml, and rustup is what installs them. Install
it with
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
then run   . \"\$HOME/.cargo/env\"   (or open a new login shell) and run
bash setup.sh   again."
fi
for tool in git gcc python3 apt-get; do
    command -v "$tool" >/dev/null && continue
    case $tool in
        git) why="rseq-os is developed in a git checkout." ;;
        gcc) why="cargo links the host tool (xtask) and build scripts with the system C compiler (cc)." ;;
        python3) why="\`just\` is installed from a Python wheel (rust-just) into a venv." ;;
        apt-get) die "apt-get is not available. setup.sh installs QEMU, gdb-multiarch and the Raspberry
Pi 4 firmware from Debian's packages, so it needs Debian (bookworm) or a
derivative with apt. On another system, install by hand what README.md's
\"Setting up a machine\" lists." ;;
    esac
    die "$tool is not installed. $why Install it with
    sudo apt-get install $tool
then run   bash setup.sh   again."
done
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null || true)
codename=${codename:-unknown}
[ "$codename" = bookworm ] \
    || say "note: setup.sh is written for Debian bookworm; this system is '$codename'. Continuing."

# --- apt: root or sudo, waiting for a running apt to finish ------------------

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "this step needs root: run setup.sh as root, or install sudo."
    fi
}
# apt's lists are read once per run, and again after a source or an
# architecture is added (apt_stale=1).
apt_updated=0
apt_stale=0
apt_update() {
    [ "$apt_updated" = 1 ] && [ "$apt_stale" = 0 ] && return 0
    say "apt-get update"
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt_updated=1
    apt_stale=0
}
# apt_install REASON PACKAGE... [-t SUITE]
apt_install() {
    local reason=$1
    shift
    say "apt-get install $*: $reason"
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
}
has_apt_source() { grep -rqs -- "$1" /etc/apt/sources.list /etc/apt/sources.list.d/; }
# add_apt_source FILE SUITE COMPONENT
add_apt_source() {
    as_root tee "/etc/apt/sources.list.d/$1" >/dev/null <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $2
Components: $3
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_stale=1
}

# --- QEMU >= 9 (raspi4b), from bookworm-backports when older -------------

qemu_major() {
    qemu-system-aarch64 --version 2>/dev/null \
        | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p'
}
if [ "$(qemu_major)" -ge 9 ] 2>/dev/null; then
    ok "QEMU $(qemu-system-aarch64 --version | sed -n '1s/^QEMU emulator version \([^ ]*\).*/\1/p') (>= 9, for raspi4b)"
else
    if ! has_apt_source bookworm-backports; then
        say "adding bookworm-backports to apt sources: QEMU >= 9 for raspi4b (bookworm ships 7.2)"
        add_apt_source bookworm-backports.sources bookworm-backports main
    fi
    apt_install "QEMU >= 9 from bookworm-backports, for raspi4b" -t bookworm-backports qemu-system-arm
    [ "$(qemu_major)" -ge 9 ] 2>/dev/null \
        || die "qemu-system-aarch64 is still older than 9 after installing it from bookworm-backports."
    ok "QEMU $(qemu-system-aarch64 --version | sed -n '1s/^QEMU emulator version \([^ ]*\).*/\1/p')"
fi

# --- gdb-multiarch (`just gdb`) ---------------------------------------------

if command -v gdb-multiarch >/dev/null; then
    ok "gdb-multiarch $(gdb-multiarch --version | sed -n '1s/.* //p')"
else
    apt_install "the debugger \`just gdb\` prints the command for" gdb-multiarch
    ok "gdb-multiarch $(gdb-multiarch --version | sed -n '1s/.* //p')"
fi

# --- the aarch64 Linux C cross toolchain (apps/linux) ------------------------

if command -v aarch64-linux-gnu-gcc >/dev/null \
    && [ -e /usr/aarch64-linux-gnu/lib/libc.a ]; then
    ok "aarch64-linux-gnu-gcc $(aarch64-linux-gnu-gcc -dumpversion) with a static glibc"
else
    apt_install "the C cross compiler and static glibc that build the Linux programs of apps/linux (gcc -static)" \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    ok "aarch64-linux-gnu-gcc $(aarch64-linux-gnu-gcc -dumpversion) with a static glibc"
fi

# --- the Rust toolchain pinned in rust-toolchain.toml -------------------------

toml_list() { sed -n "s/^$1 *= *\[\(.*\)\]/\1/p" rust-toolchain.toml | grep -o '"[^"]*"' | tr -d '"'; }
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
mapfile -t targets < <(toml_list targets)
mapfile -t components < <(toml_list components)
toolchain_complete() {
    rustup toolchain list | grep -q "^$channel-" || return 1
    local have t c
    have=$(rustup target list --installed --toolchain "$channel" 2>/dev/null) || return 1
    for t in "${targets[@]}"; do grep -qx "$t" <<<"$have" || return 1; done
    have=$(rustup component list --installed --toolchain "$channel" 2>/dev/null) || return 1
    for c in "${components[@]}"; do
        # Installed components carry the host triple: clippy-x86_64-unknown-linux-gnu.
        grep -q "^$c\(-.*\)\?$" <<<"$have" || return 1
    done
}
toolchain_summary="Rust $channel with ${targets[*]} and ${components[*]}"
if toolchain_complete; then
    ok "$toolchain_summary"
else
    say "installing $toolchain_summary (rustup)"
    args=()
    for t in "${targets[@]}"; do args+=(--target "$t"); done
    for c in "${components[@]}"; do args+=(--component "$c"); done
    rustup toolchain install "$channel" --profile minimal "${args[@]}"
    ok "$toolchain_summary"
fi

# --- just: a prebuilt wheel in a venv, linked into cargo's bin ------------

venv="${RSEQ_OS_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/rseq-os/venv}"
if just=$(command -v just); then
    ok "$("$just" --version) ($just)"
else
    if [ ! -x "$venv/bin/just" ]; then
        if [ ! -x "$venv/bin/pip" ]; then
            say "creating a Python venv for just: $venv"
            if ! python3 -m venv "$venv" >/dev/null 2>&1; then
                rm -rf "$venv"
                apt_install "python3 -m venv needs it (Debian splits venv out of python3)" python3-venv
                python3 -m venv "$venv"
            fi
        fi
        say "installing just into it: pip install rust-just (a prebuilt wheel)"
        "$venv/bin/pip" install -q --disable-pip-version-check rust-just
    fi
    if [ "$(readlink "$cargo_bin/just" 2>/dev/null)" != "$venv/bin/just" ]; then
        mkdir -p "$cargo_bin"
        say "linking $cargo_bin/just -> $venv/bin/just"
        ln -sfn "$venv/bin/just" "$cargo_bin/just"
    fi
    just="$cargo_bin/just"
    ok "$("$just" --version) ($just)"
    case ":$PATH:" in
        *":$cargo_bin:"*) ;;
        *) say "note: $cargo_bin is not on PATH, so \`just\` is not found by name yet. Fix:
    export PATH=\"$cargo_bin:\$PATH\"
(add that line to ~/.profile to keep it)" ;;
    esac
fi

# --- Raspberry Pi 4 firmware and DTB ------------------------------------

fw=target/rpi4-firmware
if [ -s "$fw/start4.elf" ] && [ -s "$fw/fixup4.dat" ] && [ -s "$fw/bcm2711-rpi-4-b.dtb" ]; then
    ok "Raspberry Pi 4 firmware and DTB in $fw"
else
    # fetch-rpi4-firmware.sh makes these two changes itself when missing;
    # they are made here first so that they are announced.
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        say "adding dpkg architecture arm64: the Pi 4 DTB comes from Debian's arm64 kernel package, which apt can only download (never installed here) with arm64 in its lists"
        as_root dpkg --add-architecture arm64
        apt_stale=1
    fi
    if ! has_apt_source non-free-firmware; then
        say "adding bookworm non-free-firmware to apt sources: the Pi 4 GPU firmware (raspi-firmware; downloaded, not installed)"
        add_apt_source rseq-os-firmware.sources bookworm non-free-firmware
    fi
    [ "$apt_stale" = 0 ] || apt_update
    say "fetching the Raspberry Pi 4 firmware and DTB into $fw (apt-get download, then unpacked)"
    bash xtask/fetch-rpi4-firmware.sh "$fw"
fi

# --- Linux's rseq selftests (`just selftests`) --------------------------------

selftests="${CARGO_TARGET_DIR:-target}/rseq-selftests"
if [ -s "$selftests/VERSION" ] && [ -f "$selftests/src/tools/testing/selftests/rseq/Makefile" ]; then
    ok "Linux's rseq selftests: $(cat "$selftests/VERSION") in $selftests"
else
    say "fetching Linux's rseq selftests into $selftests: Debian sid's newest linux-source-7.* is downloaded with a private apt configuration (the system's apt sources do not gain sid; nothing is installed) and only tools/testing/selftests/rseq and the headers it needs are unpacked"
    bash xtask/fetch-rseq-selftests.sh "$selftests"
    ok "Linux's rseq selftests: $(cat "$selftests/VERSION") in $selftests"
fi

# --- the host tool ---------------------------------------------------------

xtask_bin="${CARGO_TARGET_DIR:-target}/debug/xtask"
[ -x "$xtask_bin" ] || say "building xtask (the host tool) ..."
cargo build -q -p xtask
ok "xtask (the host tool) is built"

if [ "$boot" = 1 ]; then
    say "setup done. Booting the hello app on QEMU virt: just qemu"
    exec "$just" qemu
fi
say "setup done. Next: just qemu (boot hello on QEMU virt), just test (every test)"
