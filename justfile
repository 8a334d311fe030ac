# rseq-os entry points. Every recipe is a thin wrapper over `cargo xtask`
# (`cargo xtask help`), so CI and developers run one code path.
#
# Recipe options are passed through to xtask, which accepts them as
# `name=value` (`just qemu app=selftest append="-- ticks"`), positionally in
# the order shown (`just qemu selftest 1 3`), or as `--name value`.

set shell := ["bash", "-uc"]

# List the recipes.
default:
    @just --list --unsorted

# `cargo xtask` compiles the host tool silently (the alias runs cargo with
# --quiet), which takes a minute on a cold checkout: say so first.
_xtask-built:
    @[ -x "${CARGO_TARGET_DIR:-target}/debug/xtask" ] || echo "building xtask (the host tool), first run only"

# Build target/images/<board>-<app>.img and .elf (debug=1: -debug.img/.elf, opt-level 1, no LTO) and apps/linux into target/linux/. Options: app=hello board=virt debug=0, or elf=PATH mode=linux|v1|v2 (the loader kernel; default linux)
[positional-arguments]
build *options: _xtask-built
    cargo xtask build "$@"

# Boot on QEMU virt in this terminal, quit with Ctrl-A X. Options: app=hello el2=0 gic=2 cpu=cortex-a72 append="" env="K=V", or elf=PATH mode=linux|v1|v2 (a program as the initrd; default linux)
[positional-arguments]
qemu *options: _xtask-built
    cargo xtask qemu --board virt "$@"

# Boot on QEMU raspi4b (the Pi 4 image; Debian's bcm2711-rpi-4-b.dtb is fetched on first use). Options: app=hello append="" env="K=V", or elf=PATH mode=linux|v1|v2
[positional-arguments]
qemu-rpi4 *options: _xtask-built
    cargo xtask qemu --board rpi4 "$@"

# Host tests, then the QEMU scenarios. Options: filter=SUBSTR jobs=2 timeout=60 no-host no-build
[positional-arguments]
test *options: _xtask-built
    cargo xtask test "$@"

# Linux's own rseq selftests (Debian sid's newest linux-source-7.*), one QEMU boot per invocation, judged per mode; a table at the end. Options: board=virt|rpi4|all mode=v1|v2|linux|all set=quick|full jobs=2 timeout=600 append=KERNEL_OPTIONS filter=SUBSTR
[positional-arguments]
selftests *options: _xtask-built
    cargo xtask selftests "$@"

# Build target/rpi4-sdcard.img, a Raspberry Pi 4 SD card image, and verify it. Options: app=hello cmdline="" out=target/rpi4-sdcard.img env="K=V", or elf=PATH mode=linux|v1|v2
[positional-arguments]
sdcard *options: _xtask-built
    cargo xtask sdcard "$@"

# Write the card image to a removable disk, then read it back (refuses mounted, fixed or system disks). Options: device=/dev/sdX image=target/rpi4-sdcard.img yes=0
[positional-arguments]
flash *options: _xtask-built
    cargo xtask flash "$@"

# Benchmarks: one C program on rseq-os (none, v1, v2, linux) and on Linux, deterministic instruction counts by default. Options: board=virt clock=icount|wall runs=2 linux=1 rust=0
[positional-arguments]
bench *options: _xtask-built
    cargo xtask bench "$@"

# Soak: SMP stress + fuzz + rseq per-CPU stress for about N minutes on each board. Options: minutes=10 board=all calls=200000
[positional-arguments]
soak *options: _xtask-built
    cargo xtask soak "$@"

# The long SMP stress run on 4 CPUs (not in `test`). Options: seconds=120 board=all|virt|rpi4
[positional-arguments]
stress *options: _xtask-built
    cargo xtask stress "$@"

# List the apps an image can be built from, with their rseq mode and purpose.
apps: _xtask-built
    cargo xtask apps

# rustfmt --check, and clippy -D warnings on the host crates, the apps and the kernel.
lint: _xtask-built
    cargo xtask lint

# Create apps/NAME from apps/template (per-CPU counters with rseq) and add it to the workspace. Options: mode=v2|v1|linux|none
[positional-arguments]
new-app name *options: _xtask-built
    cargo xtask new-app "$@"

# Format every crate (what `just lint` checks).
fmt:
    cargo fmt --all

# Disassemble the kernel ELF of an image. Options: app=hello board=virt
[positional-arguments]
objdump *options: _xtask-built
    cargo xtask objdump "$@"

# The kernel ELF's symbols, by address. Options: app=hello board=virt
[positional-arguments]
nm *options: _xtask-built
    cargo xtask nm "$@"

# The kernel ELF's section sizes. Options: app=hello board=virt
[positional-arguments]
size *options: _xtask-built
    cargo xtask size "$@"

# Boot halted before the first instruction, waiting for gdb on 127.0.0.1:1234 (port=N for another; prints the gdb command; QEMU dies with the recipe). Options: as qemu, debug=1
[positional-arguments]
gdb *options: _xtask-built
    cargo xtask qemu --board virt --gdb "$@"

# Remove all build output (target/: images, test logs, cargo artefacts).
clean:
    cargo clean
