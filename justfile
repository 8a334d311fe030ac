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

# Build target/images/<board>-<app>.img and .elf. Options: app=hello board=virt
[positional-arguments]
build *options:
    cargo xtask build "$@"

# Boot on QEMU virt in this terminal, quit with Ctrl-A X. Options: app=hello el2=0 gic=2 cpu=cortex-a72 append=""
[positional-arguments]
qemu *options:
    cargo xtask qemu --board virt "$@"

# Boot on QEMU raspi4b (the Pi 4 image; Debian's bcm2711-rpi-4-b.dtb is fetched on first use). Options: app=hello append=""
[positional-arguments]
qemu-rpi4 *options:
    cargo xtask qemu --board rpi4 "$@"

# Host tests, then the QEMU scenarios. Options: filter=SUBSTR jobs=2 timeout=60 no-host no-build
[positional-arguments]
test *options:
    cargo xtask test "$@"

# Build target/rpi4-sdcard.img, a Raspberry Pi 4 SD card image, and verify it. Options: app=hello cmdline="" out=target/rpi4-sdcard.img
[positional-arguments]
sdcard *options:
    cargo xtask sdcard "$@"

# Write the card image to a removable disk, then read it back (refuses mounted, fixed or system disks). Options: device=/dev/sdX image=target/rpi4-sdcard.img yes=0
[positional-arguments]
flash *options:
    cargo xtask flash "$@"

# Benchmarks: no rseq vs v1 vs v2, deterministic instruction counts by default. Options: board=virt clock=icount|wall runs=2
[positional-arguments]
bench *options:
    cargo xtask bench "$@"

# Soak: SMP stress + fuzz + rseq per-CPU stress for about N minutes on each board. Options: minutes=10 board=all calls=200000
[positional-arguments]
soak *options:
    cargo xtask soak "$@"

# The long SMP stress run on 4 CPUs (not in `test`). Options: seconds=120 board=all|virt|rpi4
[positional-arguments]
stress *options:
    cargo xtask stress "$@"

# List the apps an image can be built from, with their rseq mode and purpose.
apps:
    cargo xtask apps

# rustfmt --check, and clippy -D warnings on the host crates, the apps and the kernel.
lint:
    cargo xtask lint

# Create apps/NAME from apps/template (per-CPU counters with rseq) and add it to the workspace. Options: mode=v2|v1|none
[positional-arguments]
new-app name *options:
    cargo xtask new-app "$@"

# Format every crate (what `just lint` checks).
fmt:
    cargo fmt --all

# Disassemble the kernel ELF of an image. Options: app=hello board=virt
[positional-arguments]
objdump *options:
    cargo xtask objdump "$@"

# The kernel ELF's symbols, by address. Options: app=hello board=virt
[positional-arguments]
nm *options:
    cargo xtask nm "$@"

# The kernel ELF's section sizes. Options: app=hello board=virt
[positional-arguments]
size *options:
    cargo xtask size "$@"

# Boot halted before the first instruction, waiting for gdb on 127.0.0.1:1234 (port=N for another; prints the gdb command). Options: as qemu
[positional-arguments]
gdb *options:
    cargo xtask qemu --board virt --gdb "$@"

# Remove all build output (target/: images, test logs, cargo artefacts).
clean:
    cargo clean
