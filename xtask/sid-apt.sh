# Sourced by the fetch scripts: a private apt configuration for Debian sid
# under a scratch folder (its own sources list, lists and cache), so the
# system's apt sources never gain sid and nothing is installed.
#
#   absolute_dir P   prints P as an absolute path, creating its parent
#                    (P itself need not exist).
#   sid_apt ARCH     sets $scratch (removed on exit; $scratch/dl is where
#                    `apt-get download` writes) and the array $apt_opts
#                    for apt-get and apt-cache, for packages of ARCH.
absolute_dir() {
    mkdir -p "$(dirname "$1")"
    echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

sid_apt() {
    local arch=$1
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    chmod 755 "$scratch"
    mkdir -p "$scratch/lists/partial" "$scratch/cache/archives/partial" "$scratch/dl"
    # apt's download user (_apt) writes the package here.
    chmod 777 "$scratch/dl"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=$arch] http://deb.debian.org/debian sid main" \
        >"$scratch/sources.list"
    apt_opts=(
        -o "Dir::Etc::sourcelist=$scratch/sources.list"
        -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$scratch/lists"
        -o "Dir::Cache=$scratch/cache"
        -o "APT::Architecture=$arch"
        -o "APT::Architectures::=$arch"
        -o "Acquire::Languages=none"
    )
}
