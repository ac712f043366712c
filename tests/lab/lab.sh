#!/usr/bin/env bash
# SwarmAdmin local Docker Swarm lab: Docker engines running inside containers of a dedicated
# outer dockerd, reachable over SSH with a per-lab key. See tests/lab/README.md.
#
#   lab.sh up [--managers N] [--workers N] [--spare N] [--engine 26|20] [--state PATH]
#   lab.sh down [--purge] [--state PATH]
#   lab.sh status [--state PATH]
#   lab.sh stop-node NAME [--kill] | start-node NAME [--wait-swarm] | regen-hostkey NAME | trust-hostkey NAME
#   lab.sh add-node NAME --address IP [--engine 26|20] [--state PATH] | remove-node NAME
#   lab.sh add-fresh-node NAME --address IP [--os-release ID[:VERSION]] [--no-apt-proxy] [--cpus N] [--state PATH]
#          ("fresh VM": Debian 12 with systemd, sshd, apt, no Docker; fresh nodes use .91-.99)
#   lab.sh exec NAME -- cmd...
#   lab.sh build [--engine 26|20]        (only build/cache the node image)
#   lab.sh build-fresh                   (only build/cache the fresh-VM image; `up` starts it in the background)
#   lab.sh apt-proxy start|stop|status   (the lab's apt-cacher-ng at http://10.213.57.1:3142; `up` starts it)
#   lab.sh docker-repo                   (a signed docker-ce APT repository at http://10.213.57.1:8090/debian,
#                                         built from Debian's docker.io; prints its URI, key and version as JSON)
set -Eeuo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LAB_DIR/../.." && pwd)

LAB_NAME=swarmadmin-lab
RUN_DIR=/run/swarmadmin-lab
OUTER_SOCK=$RUN_DIR/docker.sock
OUTER_PIDFILE=$RUN_DIR/dockerd.pid
OUTER_EXEC_ROOT=$RUN_DIR/exec
VAR_DIR=/var/lib/swarmadmin-lab
OUTER_DATA_ROOT=$VAR_DIR/docker
OUTER_LOG=/var/log/swarmadmin-lab-dockerd.log
CACHE_DIR=/var/cache/swarmadmin-lab
STATE_PATH_MEMO=$VAR_DIR/state-path
NET_NAME=swarmadmin-lab
NET_BRIDGE=swlab0
SUBNET=10.213.57.0/24
NET_PREFIX=10.213.57
GATEWAY=$NET_PREFIX.1
NODE_PREFIX=swarmlab-
BUSYBOX_IMAGE=lab/busybox:1
# Bump to force a rebuild of cached images (the build code itself is hashed too).
BUILD_REV=1

# "fresh VM" nodes (add-fresh-node): Debian 12 made with debootstrap, systemd as PID 1, no Docker
FRESH_IMAGE=swarmadmin-lab/fresh:12
FRESH_SUITE=bookworm
FRESH_MIRROR=http://deb.debian.org/debian
# (python3: Debian's cloud images have it, cloud-init is written in it; Test-SwarmNodeReadiness listens with it)
FRESH_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,apt,ca-certificates,iproute2,iptables,kmod,procps,iputils-ping,systemd-timesyncd,python3
FRESH_LOG=$VAR_DIR/fresh-build.log
FRESH_LOCK=$RUN_DIR/fresh-build.lock
FRESH_PIDFILE=$RUN_DIR/fresh-build.pid
FRESH_BUILD_TIMEOUT=${LAB_FRESH_BUILD_TIMEOUT:-900}

# the lab's APT cache (apt-cacher-ng from Debian, run as a plain daemon bound to the lab gateway)
ACNG_PORT=3142
ACNG_DIR=$VAR_DIR/apt-cacher-ng
ACNG_CACHE=$CACHE_DIR/apt-cacher-ng
ACNG_PIDFILE=$RUN_DIR/apt-cacher-ng.pid
APT_PROXY_URL=http://$GATEWAY:$ACNG_PORT

# a signed APT repository in Docker's layout (docker-ce, docker-ce-cli, containerd.io) for Install-SwarmEngine
# -Source DockerRepository: built from Debian's docker.io (`docker-repo`), served by busybox httpd on the gateway,
# reached by nodes through the lab's apt-cacher-ng (a remap rule names it, as a site's cache would name Docker's)
REPO_PORT=8090
REPO_DIR=$CACHE_DIR/docker-repo
REPO_PIDFILE=$RUN_DIR/docker-repo-httpd.pid
REPO_URL=http://$GATEWAY:$REPO_PORT/debian

export DOCKER_HOST=unix://$OUTER_SOCK
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH || true
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

T0=$(date +%s)

log() { printf '[lab %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - T0))" "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }
on_err() {
    local rc=$? line=${BASH_LINENO[0]:-?}
    printf '[lab] ERROR: command failed (exit %s) at lab.sh:%s: %s\n' "$rc" "$line" "$BASH_COMMAND" >&2
}
trap on_err ERR

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

DOCKER_BIN=""
find_docker_cli() {
    local c
    for c in /usr/local/bin/docker /usr/bin/docker; do
        if [[ -x $c ]]; then DOCKER_BIN=$c; return 0; fi
    done
    return 1
}
# every outer docker call is bounded (a hung inner engine must not hang the script)
dk() { timeout 600 "$DOCKER_BIN" "$@"; }

# ---------------------------------------------------------------- state path helpers
STATE_PATH=""
resolve_state_path() { # $1 = value of --state or "", $2 = "nomemo" for up
    local p=$1
    # commands other than `up` default to the state path of the last `up` on this machine
    if [[ -z $p && ${2:-} != nomemo && -s $STATE_PATH_MEMO ]]; then p=$(cat "$STATE_PATH_MEMO"); fi
    [[ -n $p ]] || p=$REPO_ROOT/out/lab/state.json
    case $p in /*) ;; *) p=$PWD/$p ;; esac
    STATE_PATH=$p
    STATE_DIR=$(dirname "$p")
    KEY_PATH=$STATE_DIR/id_ed25519
    KNOWN_HOSTS=$STATE_DIR/known_hosts
    SSH_CONFIG=$STATE_DIR/ssh_config
    SSH_WRAPPER_DIR=$STATE_DIR/bin
}

# ---------------------------------------------------------------- locking
take_lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/lab.lock"
    if ! flock -w 900 9; then die "another lab.sh is running (lock $RUN_DIR/lab.lock)"; fi
}

# ---------------------------------------------------------------- host packages
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

APT_UPDATED=0
host_apt_install() {
    local created_policy=0
    if [[ $APT_UPDATED == 0 ]]; then
        log "apt-get update (host)"
        mkdir -p "$CACHE_DIR"
        apt-get -o DPkg::Lock::Timeout=600 update -q >"$CACHE_DIR/host-apt-update.log" 2>&1 ||
            { tail -n 20 "$CACHE_DIR/host-apt-update.log" >&2; die "apt-get update failed"; }
        APT_UPDATED=1
    fi
    # never let a package start a service (e.g. a default dockerd) on this host
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    log "apt-get install $*"
    local rc=0
    mkdir -p "$CACHE_DIR"
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" >"$CACHE_DIR/host-apt.log" 2>&1 || rc=$?
    [[ $rc == 0 ]] || tail -n 30 "$CACHE_DIR/host-apt.log" >&2
    [[ $created_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d
    [[ $rc == 0 ]] || die "apt-get install $* failed"
}

ensure_host_packages() {
    local need=() p
    command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
    for p in docker.io iptables openssh-client busybox-static jq iproute2 ca-certificates debootstrap apt-cacher-ng git apt-utils gpg gpg-agent; do
        if [[ $p == docker.io ]]; then continue; fi
        pkg_installed "$p" || need+=("$p")
    done
    if ((${#need[@]})); then
        # apt-cacher-ng asks whether to allow HTTPS tunnelling: no (the lab runs its own instance anyway)
        echo 'apt-cacher-ng apt-cacher-ng/tunnelenable boolean false' | debconf-set-selections 2>/dev/null || true
        host_apt_install "${need[@]}"
    fi
    find_docker_cli || die "no docker CLI at /usr/local/bin/docker or /usr/bin/docker"
    command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
}

# ---------------------------------------------------------------- outer engine
outer_alive() { [[ -S $OUTER_SOCK ]] && timeout 10 "$DOCKER_BIN" version >/dev/null 2>&1; }

# the pid in a pid file, when that process still runs and is the program named (a reused pid is not taken for it)
pidfile_pid() { # file program
    local pid
    [[ -s $1 ]] || return 1
    pid=$(cat "$1")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && grep -qa "$2" "/proc/$pid/cmdline" || return 1
    echo "$pid"
}
# something accepts TCP connections on the lab gateway at this port
gateway_port_answers() { timeout 3 bash -c "exec 3<>/dev/tcp/$GATEWAY/$1" 2>/dev/null; }

outer_pid() { pidfile_pid "$OUTER_PIDFILE" dockerd; }

# --bridge=none: no docker0, so no clash with any other engine on this host.
# --iptables=false --ip-forward=false: the host's firewall and forwarding are left alone, and nothing
# in the lab is routed or NATed off the lab network (which is also --internal).
OUTER_FLAGS="--bridge=none --iptables=false --ip-forward=false --ip-masq=false --cgroup-parent=/swarmadmin-lab-outer"
start_outer() {
    if outer_alive; then
        log "outer dockerd already running ($OUTER_SOCK)"
        [[ $(cat "$RUN_DIR/dockerd.flags" 2>/dev/null) == "$OUTER_FLAGS" ]] ||
            log "WARNING: the outer dockerd was started with other flags (older lab.sh?); 'lab.sh down' restarts it"
        return 0
    fi
    # (an engine that is still shutting down keeps its pidfile for a moment: wait for it to go first)
    local i starts=0 spid=""
    for ((i = 0; i < 180; i++)); do
        if outer_alive; then log "outer dockerd is up"; return 0; fi
        if ! outer_pid >/dev/null && ! { [[ -n $spid ]] && kill -0 "$spid" 2>/dev/null; }; then
            ((starts < 3)) || break
            starts=$((starts + 1))
            rm -f "$OUTER_PIDFILE"
            mkdir -p "$RUN_DIR" "$OUTER_EXEC_ROOT" "$OUTER_DATA_ROOT"
            log "starting outer dockerd (log: $OUTER_LOG)"
            echo "$OUTER_FLAGS" >"$RUN_DIR/dockerd.flags"
            # shellcheck disable=SC2086
            setsid nohup "$(command -v dockerd)" \
                --data-root "$OUTER_DATA_ROOT" --exec-root "$OUTER_EXEC_ROOT" \
                --pidfile "$OUTER_PIDFILE" -H "unix://$OUTER_SOCK" $OUTER_FLAGS \
                >>"$OUTER_LOG" 2>&1 </dev/null 9>&- &
            spid=$!
            disown || true
        fi
        sleep 0.5
    done
    tail -n 20 "$OUTER_LOG" >&2 || true
    die "outer dockerd did not answer on $OUTER_SOCK within 90s (see $OUTER_LOG)"
}

stop_outer() {
    local pid i
    if pid=$(outer_pid); then
        log "stopping outer dockerd (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then log "outer dockerd still alive: SIGKILL"; kill -KILL "$pid" || true; sleep 1; fi
    fi
    rm -f "$OUTER_PIDFILE" "$OUTER_SOCK" "$RUN_DIR/dockerd.flags"
}

require_outer() {
    find_docker_cli || die "no docker CLI found"
    outer_alive || die "the lab is not up (no outer dockerd on $OUTER_SOCK); run: lab.sh up"
}

# ---------------------------------------------------------------- node image build
engine_suite() {
    case $1 in 26) echo trixie ;; 20) echo bookworm ;; *) die "unknown --engine '$1' (use 26 or 20)" ;; esac
}
engine_roots() {
    local common="containerd runc tini iptables openssh-server openssh-client openssh-sftp-server busybox-static"
    case $1 in
        26) echo "docker.io docker-cli $common" ;;
        20) echo "docker.io $common" ;;
    esac
}
node_image() { echo "swarmadmin-lab/node:$1"; }

apt_lab() { # suite args... : apt with its own source list, lists, cache and (empty) status
    local suite=$1; shift
    local d=$CACHE_DIR/apt/$suite
    apt-get -q -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::State::status="$d/status" \
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
        -o APT::Architecture=amd64 -o Debug::NoLocking=1 -o Acquire::Retries=3 "$@"
}
aptcache_lab() {
    local suite=$1; shift
    local d=$CACHE_DIR/apt/$suite
    apt-cache -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::State::status="$d/status" \
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
        -o APT::Architecture=amd64 "$@"
}

apt_lab_update() { # suite [force]
    local suite=$1 force=${2:-0} d=$CACHE_DIR/apt/$1 kr=/usr/share/keyrings/debian-archive-keyring.gpg
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
    [[ -e $d/status ]] || : > "$d/status"
    cat > "$d/sources.list.new" <<EOF
deb [signed-by=$kr] http://deb.debian.org/debian $suite main
deb [signed-by=$kr] http://deb.debian.org/debian $suite-updates main
deb [signed-by=$kr] http://deb.debian.org/debian-security $suite-security main
EOF
    mv "$d/sources.list.new" "$d/sources.list"
    if [[ $force == 1 || ! -e $d/lists/.updated ]] || [[ -n $(find "$d/lists/.updated" -mmin +1440 2>/dev/null) ]]; then
        log "apt-get update for Debian $suite (own lists under $d)"
        apt_lab "$suite" update >"$d/update.log" 2>&1 || { tail -n 20 "$d/update.log" >&2; die "apt-get update for $suite failed"; }
        touch "$d/lists/.updated"
    fi
}

# Closure of the roots over Depends/PreDepends, following only library packages.
resolve_packages() { # suite roots...
    local suite=$1; shift
    local -A seen=()
    local queue=("$@") next p dep
    for p in "$@"; do seen[$p]=1; done
    while ((${#queue[@]})); do
        next=()
        while read -r dep; do
            [[ -n $dep && -z ${seen[$dep]:-} ]] || continue
            seen[$dep]=1
            next+=("$dep")
        done < <(aptcache_lab "$suite" depends --no-recommends --no-suggests --no-conflicts --no-breaks \
                    --no-replaces --no-enhances "${queue[@]}" 2>/dev/null |
                 sed -nE 's/^ [ |](Pre)?Depends: ((lib|zlib)[^ <>]*)$/\2/p' | sort -u |
                 { grep -vE '^(libpam-|libc-bin|libc-dev|.*-dev$|libsystemd-shared)' || true; })
        queue=("${next[@]}")
    done
    printf '%s\n' "${!seen[@]}" | sort
}

build_hash() { # engine
    local e=$1
    {
        echo "rev=$BUILD_REV engine=$e suite=$(engine_suite "$e") roots=$(engine_roots "$e")"
        cat "$LAB_DIR/node-entrypoint.sh"
        declare -f build_node_rootfs resolve_packages engine_roots apt_lab_update
    } | sha256sum | cut -c1-16
}

check_rootfs_libs() { # rootfs : every ELF must resolve its libraries inside the rootfs
    local root=$1 f missing=0 out ld=/lib64/ld-linux-x86-64.so.2
    [[ -e $root$ld || -L $root$ld ]] || die "rootfs has no $ld"
    while IFS= read -r -d '' f; do
        [[ $(head -c 4 "$f" | tr -d '\0') == $'\x7fELF' ]] || continue
        out=$(chroot "$root" "$ld" --list "${f#"$root"}" 2>&1 || true) # static binaries: "not a dynamic executable"
        if grep -q 'not found' <<<"$out"; then
            log "missing libraries for ${f#"$root"}: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"
            missing=1
        fi
    done < <(for f in "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/openssh" "$root/usr/libexec"; do
                 [[ -d $f ]] && find "$f" -type f -perm -u+x -print0; done)
    [[ $missing == 0 ]] || die "node rootfs is missing shared libraries (see above)"
}

build_node_rootfs() { # engine rootfs
    local e=$1 root=$2 suite d pkgs=() p deb f
    suite=$(engine_suite "$e")
    d=$CACHE_DIR/apt/$suite
    apt_lab_update "$suite"
    # shellcheck disable=SC2046
    mapfile -t pkgs < <(resolve_packages "$suite" $(engine_roots "$e"))
    ((${#pkgs[@]} > 10)) || die "package resolution for $suite returned too little: ${pkgs[*]}"
    log "Debian $suite packages (${#pkgs[@]}): ${pkgs[*]}"
    # download what is not cached yet
    local uris missing=()
    # (run in an empty folder: apt-get download prints nothing for files already in the current one)
    rm -rf "$d/empty"; mkdir -p "$d/empty"
    uris=$(cd "$d/empty" && apt_lab "$suite" --print-uris download "${pkgs[@]}" 2>"$d/download.log") ||
        { apt_lab_update "$suite" 1; uris=$(cd "$d/empty" && apt_lab "$suite" --print-uris download "${pkgs[@]}" 2>"$d/download.log"); } ||
        { cat "$d/download.log" >&2; die "cannot resolve downloads for $suite"; }
    local debfiles=()
    [[ -n $uris ]] || die "apt-get --print-uris download returned nothing for $suite"
    while read -r _ f _; do
        debfiles+=("$d/debs/$f")
        [[ -s $d/debs/$f ]] || missing+=("$f")
    done <<<"$uris"
    if ((${#missing[@]})); then
        log "downloading ${#missing[@]} .deb files from deb.debian.org ($suite)"
        (cd "$d/debs" && apt_lab "$suite" download "${pkgs[@]}") >"$d/download.log" 2>&1 ||
            { tail -n 20 "$d/download.log" >&2; die "apt-get download for $suite failed"; }
    fi
    # the package versions may have changed: drop .debs that are no longer wanted
    for f in "$d"/debs/*.deb; do
        [[ " ${debfiles[*]} " == *" $f "* ]] || rm -f "$f"
    done

    log "extracting ${#debfiles[@]} packages into $root"
    rm -rf "$root"
    mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64"
    ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
    ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
    for deb in "${debfiles[@]}"; do
        [[ -s $deb ]] || die "missing $deb"
        dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink --no-same-owner -C "$root"
    done

    # busybox applets (never overwrite real binaries)
    local bb=$root/usr/bin/busybox a
    [[ -x $bb ]] || die "busybox missing in rootfs"
    while read -r a; do
        [[ -n $a ]] || continue
        [[ -e $root/$a || -L $root/$a ]] || { mkdir -p "$(dirname "$root/$a")"; ln -s /usr/bin/busybox "$root/$a"; }
    done < <(chroot "$root" /usr/bin/busybox --list-full)
    # iptables alternatives (dpkg -x does not run update-alternatives)
    [[ -x $root/usr/sbin/xtables-legacy-multi ]] || die "xtables-legacy-multi missing in rootfs"
    for a in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        ln -sfn xtables-legacy-multi "$root/usr/sbin/$a"
    done
    # docker-init: Debian's docker.io uses tini
    if [[ ! -e $root/usr/bin/docker-init && ! -e $root/usr/sbin/docker-init ]]; then
        if [[ -x $root/usr/bin/tini-static ]]; then ln -s tini-static "$root/usr/bin/docker-init"; fi
    fi

    # users, groups, name service, misc files
    mkdir -p "$root/etc/ssh" "$root/root/.ssh" "$root/run/sshd" "$root/tmp" "$root/var/log" \
        "$root/var/lib/docker" "$root/usr/local/sbin" "$root/home" "$root/var/tmp"
    rm -rf "$root/var/run"; ln -s /run "$root/var/run"
    chmod 700 "$root/root" "$root/root/.ssh"; chmod 1777 "$root/tmp" "$root/var/tmp"
    cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
sshd:x:100:65534:sshd privsep:/run/sshd:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat > "$root/etc/group" <<'EOF'
root:x:0:
docker:x:999:
nogroup:x:65534:
EOF
    cat > "$root/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
sshd:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
    chmod 640 "$root/etc/shadow"
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$root/etc/nsswitch.conf"
    printf 'PRETTY_NAME="SwarmAdmin lab node (Debian %s packages)"\nNAME="SwarmAdmin lab node"\nID=debian\nVERSION_CODENAME=%s\n' \
        "$suite" "$suite" > "$root/etc/os-release"
    printf 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n' > "$root/etc/profile"
    install -m 0755 "$LAB_DIR/node-entrypoint.sh" "$root/usr/local/sbin/lab-entrypoint"
    # remove what a node never needs (docs, manuals, locales)
    rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" \
        "$root/usr/share/lintian" "$root/etc/init.d" "$root/lib/systemd" "$root/usr/lib/systemd"

    rm -f "$root/linuxrc"
    # verification against the extracted rootfs (device nodes only for these checks)
    mkdir -p "$root/dev"
    mknod -m 666 "$root/dev/null" c 1 3; mknod -m 666 "$root/dev/zero" c 1 5
    mknod -m 666 "$root/dev/random" c 1 8; mknod -m 666 "$root/dev/urandom" c 1 9
    check_rootfs_libs "$root"
    chroot "$root" /usr/sbin/sshd -V >/dev/null 2>&1 || chroot "$root" /usr/sbin/sshd -V 2>&1 | grep -q OpenSSH ||
        die "sshd does not run in the rootfs"
    local k
    k=$(mktemp -d "$root/tmp/keytest.XXXX")
    chroot "$root" /usr/bin/ssh-keygen -q -t ed25519 -N '' -f "${k#"$root"}/key" >/dev/null || die "ssh-keygen does not run in the rootfs"
    chroot "$root" /usr/sbin/sshd -t -f /dev/null -h "${k#"$root"}/key" -o UsePAM=no ||
        die "sshd -t fails in the rootfs"
    rm -rf "$k"
    log "rootfs check: $(chroot "$root" /usr/sbin/dockerd --version)" || die "dockerd does not run in the rootfs"
    log "rootfs check: $(chroot "$root" /usr/bin/docker --version) (CLI)" || die "docker CLI does not run in the rootfs"
    for a in containerd containerd-shim-runc-v2 runc docker-proxy docker-init iptables; do
        chroot "$root" /bin/sh -c "command -v $a" >/dev/null || die "$a missing in the rootfs"
    done
    rm -rf "${root:?}/dev"; mkdir -m 755 "$root/dev"
}

ensure_node_image() { # engine
    local e=$1 img h tarball cur root
    img=$(node_image "$e")
    h=$(build_hash "$e")
    cur=$(dk image inspect --format '{{index .Config.Labels "swarmadmin-lab.build"}}' "$img" 2>/dev/null || true)
    if [[ $cur == "$h" ]]; then log "node image $img is cached (build $h)"; return 0; fi
    tarball=$CACHE_DIR/node-$e-$h.tar
    if [[ ! -s $tarball ]]; then
        local tb
        tb=$(date +%s)
        root=$CACHE_DIR/build/node-$e/rootfs
        log "building node image rootfs for engine $e (Debian $(engine_suite "$e"))"
        build_node_rootfs "$e" "$root"
        tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$CACHE_DIR/build/node-$e"
        find "$CACHE_DIR" -maxdepth 1 -name "node-$e-*.tar" ! -name "node-$e-$h.tar" -delete
        log "node rootfs tarball $tarball ($(du -h "$tarball" | cut -f1)) built in $(($(date +%s) - tb))s"
    fi
    log "importing $img"
    dk import \
        --change 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/sbin/lab-entrypoint"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'VOLUME /var/lib/docker' \
        --change "LABEL swarmadmin-lab.build=$h swarmadmin-lab.engine=$e" \
        "$tarball" "$img" >/dev/null
    dk image prune -f >/dev/null 2>&1 || true # the replaced build, unless a node still uses it
}

BUSYBOX_TAR=""
# The service image lab/busybox:1 uses Debian trixie's busybox-static: bookworm's 1.35 (the host's)
# has a wget that segfaults.
ensure_busybox_tar() {
    local suite=trixie d h root uri f deb bb
    d=$CACHE_DIR/apt/$suite
    BUSYBOX_TAR=$(find "$CACHE_DIR" -maxdepth 1 -name 'busybox-*.tar' 2>/dev/null | head -n 1)
    h=$( { echo "rev=$BUILD_REV"; declare -f ensure_busybox_tar; } | sha256sum | cut -c1-16)
    if [[ $BUSYBOX_TAR == "$CACHE_DIR/busybox-$h.tar" && -s $BUSYBOX_TAR ]]; then return 0; fi
    BUSYBOX_TAR=$CACHE_DIR/busybox-$h.tar
    log "building busybox image tarball (busybox-static from Debian $suite)"
    apt_lab_update "$suite"
    rm -rf "$d/empty"; mkdir -p "$d/empty"
    uri=$(cd "$d/empty" && apt_lab "$suite" --print-uris download busybox-static 2>/dev/null) || die "cannot resolve busybox-static"
    read -r _ f _ <<<"$uri"
    deb=$d/debs/$f
    if [[ ! -s $deb ]]; then
        (cd "$d/debs" && apt_lab "$suite" download busybox-static) >"$d/download.log" 2>&1 ||
            { tail -n 20 "$d/download.log" >&2; die "apt-get download busybox-static failed"; }
    fi
    mkdir -p "$CACHE_DIR"
    root=$(mktemp -d "$CACHE_DIR/busybox-build.XXXX")
    dpkg-deb -x "$deb" "$root/x"
    bb=$root/x/usr/bin/busybox; [[ -x $bb ]] || bb=$root/x/bin/busybox
    [[ -x $bb ]] || die "no busybox binary in $deb"
    if ldd "$bb" >/dev/null 2>&1; then die "$bb is not static"; fi
    mkdir -p "$root/fs/bin" "$root/fs/etc" "$root/fs/tmp" "$root/fs/root" "$root/fs/var/www" "$root/fs/usr"
    ln -s bin "$root/fs/sbin"; ln -s ../bin "$root/fs/usr/bin"; ln -s ../bin "$root/fs/usr/sbin"
    cp "$bb" "$root/fs/bin/busybox"
    local a
    for a in $("$bb" --list); do [[ $a == busybox ]] || ln -s busybox "$root/fs/bin/$a"; done
    chmod 1777 "$root/fs/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/fs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/fs/etc/group"
    tar -C "$root/fs" --numeric-owner -cf "$BUSYBOX_TAR.tmp" .
    mv "$BUSYBOX_TAR.tmp" "$BUSYBOX_TAR"
    rm -rf "$root"
    find "$CACHE_DIR" -maxdepth 1 -name 'busybox-*.tar' ! -name "busybox-$h.tar" -delete
}

# ---------------------------------------------------------------- network / keys
ip2int() { local a b c d; IFS=. read -r a b c d <<<"$1"; echo $(((a << 24) + (b << 16) + (c << 8) + d)); }

check_subnet_clash() {
    local net len lo hi rnet rlen rlo rhi line dev
    net=${SUBNET%/*}; len=${SUBNET#*/}
    lo=$(ip2int "$net"); hi=$((lo + (1 << (32 - len)) - 1))
    while read -r line; do
        set -- $line
        [[ $1 == default ]] && continue
        dev=$(sed -nE 's/.* dev ([^ ]+).*/\1/p' <<<"$line")
        [[ $dev == "$NET_BRIDGE" ]] && continue
        rnet=${1%/*}; rlen=32; [[ $1 == */* ]] && rlen=${1#*/}
        [[ $rnet =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || continue
        rlo=$(ip2int "$rnet"); rhi=$((rlo + (1 << (32 - rlen)) - 1))
        if ((rlo <= hi && rhi >= lo)); then die "lab subnet $SUBNET clashes with host route '$line'"; fi
    done < <(ip -4 route show)
}

ensure_network() {
    if dk network inspect "$NET_NAME" >/dev/null 2>&1; then
        local s
        s=$(dk network inspect --format '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NET_NAME")
        [[ $s == "$SUBNET" ]] || die "network $NET_NAME exists with subnet $s (expected $SUBNET); run lab.sh down"
        [[ $(dk network inspect --format '{{.Internal}}' "$NET_NAME") == true ]] ||
            die "network $NET_NAME is not --internal (older lab.sh?); run lab.sh down"
        return 0
    fi
    check_subnet_clash
    log "creating network $NET_NAME ($SUBNET, bridge $NET_BRIDGE)"
    dk network create --driver bridge --internal --subnet "$SUBNET" --gateway "$GATEWAY" \
        -o com.docker.network.bridge.name="$NET_BRIDGE" --label swarmadmin-lab=1 "$NET_NAME" >/dev/null
}

write_ssh_config() { # [name ip]... : per-node aliases, then the defaults for the whole lab subnet
    local tmp
    tmp=$(mktemp "$STATE_DIR/.ssh_config.XXXX")
    {
        echo "# written by tests/lab/lab.sh: ssh -F $SSH_CONFIG swarmlab-m1 (or $NET_PREFIX.11)"
        while (($# >= 2)); do printf 'Host %s\n    HostName %s\n' "$1" "$2"; shift 2; done
        cat <<EOF
Host ${NET_PREFIX}.* ${NODE_PREFIX}*
    User root
    IdentityFile $KEY_PATH
    IdentitiesOnly yes
    UserKnownHostsFile $KNOWN_HOSTS
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
EOF
    } >"$tmp"
    chmod 644 "$tmp"; mv "$tmp" "$SSH_CONFIG"
}

ensure_keys() {
    mkdir -p "$STATE_DIR"
    if [[ ! -s $KEY_PATH || ! -s $KEY_PATH.pub ]]; then
        log "creating lab SSH key $KEY_PATH"
        rm -f "$KEY_PATH" "$KEY_PATH.pub"
        ssh-keygen -q -t ed25519 -N '' -C "swarmadmin-lab" -f "$KEY_PATH" >/dev/null
    fi
    chmod 600 "$KEY_PATH"
    write_ssh_config
    # an `ssh` wrapper so that `PATH=$STATE_DIR/bin:$PATH docker -H ssh://root@IP ...` uses the lab's ssh_config
    mkdir -p "$SSH_WRAPPER_DIR"
    printf '#!/bin/sh\nexec /usr/bin/ssh -F %q "$@"\n' "$SSH_CONFIG" > "$SSH_WRAPPER_DIR/ssh"
    chmod 755 "$SSH_WRAPPER_DIR/ssh"
}

# ---------------------------------------------------------------- nodes
lab_containers() { # all lab node containers (running or not), one name per line
    # managers, workers, spare, then add-node nodes
    dk ps -a --filter label=swarmadmin-lab.node=1 --format '{{.Names}}' |
        awk -v p="$NODE_PREFIX" '{ k = 9; if (index($0, p "m") == 1) k = 1; else if (index($0, p "w") == 1) k = 2;
                                   else if (index($0, p "s") == 1) k = 3; print k "\t" $0 }' |
        sort -t $'\t' -k1,1n -k2,2V | cut -f2
}
node_exists() { dk container inspect "$1" >/dev/null 2>&1; }
node_running() { [[ $(dk container inspect --format '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
node_ip() { dk container inspect --format "{{(index .NetworkSettings.Networks \"$NET_NAME\").IPAddress}}" "$1"; }
node_label() { dk container inspect --format "{{index .Config.Labels \"$2\"}}" "$1"; }

run_node() { # name ip role engine
    local name=$1 ip=$2 role=$3 e=$4
    log "starting node $name ($ip, $role, engine $e)"
    dk run -d --name "$name" --hostname "$name" \
        --network "$NET_NAME" --ip "$ip" \
        --cap-add ALL --cap-drop SYS_RESOURCE \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v /var/lib/docker \
        --stop-timeout 15 --log-opt max-size=1m --log-opt max-file=2 \
        --label swarmadmin-lab.node=1 --label "swarmadmin-lab.role=$role" --label "swarmadmin-lab.engine=$e" \
        -e "LAB_NODE_NAME=$name" -e "LAB_AUTHORIZED_KEY=$(cat "$KEY_PATH.pub")" \
        "$(node_image "$e")" >/dev/null
}

node_authorized_key() { # name
    dk container inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$1" | sed -n 's/^LAB_AUTHORIZED_KEY=//p'
}

ensure_node() { # name ip role engine
    local name=$1 ip=$2 role=$3 e=$4 img cur_ip
    if node_exists "$name"; then
        img=$(dk container inspect --format '{{.Config.Image}}' "$name")
        [[ $img == "$(node_image "$e")" ]] ||
            die "node $name runs $img, not $(node_image "$e"); run 'lab.sh down' first to change the engine"
        cur_ip=$(node_ip "$name" 2>/dev/null || true)
        if [[ $cur_ip != "$ip" ]] && node_running "$name"; then
            die "node $name has address '$cur_ip', expected $ip; run 'lab.sh down' first"
        fi
        # a node made for another lab key (another state folder, e.g. a new clone) is made anew
        if [[ $(node_authorized_key "$name") != "$(cat "$KEY_PATH.pub")" ]]; then
            log "node $name was made with another lab key (other state folder): recreating it"
            dk rm -f -v "$name" >/dev/null
            run_node "$@"
            return 0
        fi
        if ! node_running "$name"; then log "starting stopped node $name"; dk start "$name" >/dev/null; fi
    else
        run_node "$@"
    fi
}

ssh_probe_opts() { # strict: use known_hosts; else accept anything (readiness only)
    local o=(-i "$KEY_PATH" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR -F /dev/null)
    if [[ ${1:-} == strict ]]; then
        o+=(-o "UserKnownHostsFile=$KNOWN_HOSTS" -o StrictHostKeyChecking=yes)
    else
        o+=(-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no)
    fi
    printf '%s\n' "${o[@]}"
}

wait_node_ready() { # name [timeout]
    local name=$1 timeout=${2:-120} i ip opts
    if [[ $(node_label "$name" swarmadmin-lab.role 2>/dev/null) == fresh ]]; then
        wait_fresh_ready "$name" "$timeout"
        # an engine installed into it (Install-SwarmEngine) is started by systemd: wait for it as well
        if timeout 10 "$DOCKER_BIN" exec "$name" test -x /usr/bin/dockerd 2>/dev/null; then
            for ((i = 0; i < timeout * 2; i++)); do
                timeout 20 "$DOCKER_BIN" exec "$name" docker info >/dev/null 2>&1 && return 0
                sleep 0.5
            done
            die "fresh node $name: sshd answers but its dockerd does not after ${timeout}s"
        fi
        return 0
    fi
    ip=$(node_ip "$name")
    mapfile -t opts < <(ssh_probe_opts)
    for ((i = 0; i < timeout * 2; i++)); do
        node_running "$name" || die "node $name stopped (see: docker logs $name; lab.sh exec $name -- cat /var/log/dockerd.log)"
        if timeout 20 "$DOCKER_BIN" exec "$name" docker info >/dev/null 2>&1 &&
            timeout 10 ssh "${opts[@]}" "root@$ip" true </dev/null >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    dk logs --tail 20 "$name" >&2 || true
    dk exec "$name" tail -n 20 /var/log/dockerd.log >&2 || true
    die "node $name: dockerd/sshd not ready after ${timeout}s"
}

ensure_busybox_in_node() { # name
    local name=$1 h cur
    h=$(basename "$BUSYBOX_TAR" .tar); h=${h#busybox-}
    cur=$(dk exec "$name" docker image inspect --format '{{index .Config.Labels "swarmadmin-lab.build"}}' "$BUSYBOX_IMAGE" 2>/dev/null || true)
    [[ $cur == "$h" ]] && return 0
    log "importing $BUSYBOX_IMAGE into $name"
    dk exec -i "$name" docker import --change "LABEL swarmadmin-lab.build=$h" - "$BUSYBOX_IMAGE" <"$BUSYBOX_TAR" >/dev/null
}

# run "func node" for every node in parallel; fail if any failed
for_nodes() { # func nodes...
    local f=$1 p rc=0
    shift
    local -a pids=()
    for p in "$@"; do "$f" "$p" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    return $rc
}
prepare_node() { wait_node_ready "$1"; ensure_busybox_in_node "$1"; }

swarm_state() { timeout 30 "$DOCKER_BIN" exec "$1" docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }
swarm_node_id() { timeout 30 "$DOCKER_BIN" exec "$1" docker info --format '{{.Swarm.NodeID}}' 2>/dev/null || true; }

# known_hosts lines of one node: "IP,HOSTNAME keytype key"
known_hosts_lines() { # name ip
    local name=$1 ip=$2
    dk exec "$name" sh -c 'cat /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub /etc/ssh/ssh_host_rsa_key.pub 2>/dev/null' |
        awk -v h="$ip,$name" 'NF >= 2 { print h, $1, $2 }'
}
known_hosts_update() { # name ip : replace the lines of this node
    local name=$1 ip=$2 lines tmp
    lines=$(known_hosts_lines "$name" "$ip")
    [[ -n $lines ]] || die "no SSH host keys found in $name"
    tmp=$(mktemp "$STATE_DIR/.known_hosts.XXXX")
    if [[ -s $KNOWN_HOSTS ]]; then
        awk -v h="$ip,$name" '$1 != h' "$KNOWN_HOSTS" | awk -v ip="$ip" -v n="$name" '{ split($1, a, ","); for (i in a) if (a[i] == ip || a[i] == n) next; print }' >"$tmp"
    fi
    printf '%s\n' "$lines" >>"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$KNOWN_HOSTS"
}

strict_ssh_check() { # name
    local opts
    mapfile -t opts < <(ssh_probe_opts strict)
    timeout 20 ssh "${opts[@]}" "root@$(node_ip "$1")" docker version --format '{{.Server.Version}}' </dev/null >/dev/null ||
        die "strict SSH check (key + known_hosts) of $1 failed"
}

node_state_json() { # name : one Nodes[] entry
    local n=$1 ip role joined=false ver="" img
    ip=$(node_ip "$n" 2>/dev/null || true)
    role=$(node_label "$n" swarmadmin-lab.role)
    img=$(dk container inspect --format '{{.Config.Image}}' "$n")
    if node_running "$n"; then
        [[ $(swarm_state "$n") == active ]] && joined=true
        # (a fresh node without Docker: the exec fails with its error on stdout)
        ver=$(dk exec "$n" docker version --format '{{.Server.Version}}' 2>/dev/null) || ver=""
    fi
    jq -cn --arg n "$n" --arg ip "$ip" --arg role "$role" --argjson j "$joined" --arg v "$ver" --arg img "$img" \
        '{Name: $n, Container: $n, Address: $ip, Role: $role, Joined: $j, EngineVersion: $v, Image: $img}'
}

write_state() {
    local engine_img=$1 nodes n tmpd i=0
    local -a names=() pids=()
    mapfile -t names < <(lab_containers)
    tmpd=$(mktemp -d)
    for n in "${names[@]}"; do node_state_json "$n" >"$tmpd/$i.json" & pids+=($!); i=$((i + 1)); done
    for n in "${pids[@]}"; do wait "$n" || { rm -rf "$tmpd"; die "cannot read node state"; }; done
    nodes=$(for ((i = 0; i < ${#names[@]}; i++)); do cat "$tmpd/$i.json"; done | jq -cs .)
    rm -rf "$tmpd"
    local -a aliases=()
    mapfile -t aliases < <(jq -r '.[] | select(.Address != "") | .Name, .Address' <<<"$nodes")
    write_ssh_config "${aliases[@]}"
    mkdir -p "$STATE_DIR"
    jq -n --arg name "$LAB_NAME" --arg host "unix://$OUTER_SOCK" --arg net "$NET_NAME" --arg subnet "$SUBNET" \
        --arg key "$KEY_PATH" --arg kh "$KNOWN_HOSTS" --arg cfg "$SSH_CONFIG" --arg img "$engine_img" \
        --argjson nodes "$nodes" --arg proxy "$(apt_proxy_url_if_running)" --arg fresh "$FRESH_IMAGE" \
        '{Name: $name, DockerHost: $host, Network: $net, Subnet: $subnet, KeyPath: $key, KnownHostsPath: $kh,
          SshConfigPath: $cfg, User: "root", EngineImage: $img,
          AptProxy: (if $proxy == "" then null else $proxy end), FreshImage: $fresh, Nodes: $nodes}' >"$STATE_PATH.tmp"
    mv "$STATE_PATH.tmp" "$STATE_PATH"
    echo "$STATE_PATH" >"$STATE_PATH_MEMO"
    log "state written to $STATE_PATH"
}

# ---------------------------------------------------------------- swarm
form_swarm() { # mgrs[] wrks[]  (names; m1 = first manager)
    local m1=$1; shift
    local -a mgrs=() wrks=()
    local mode=m a
    for a in "$@"; do
        if [[ $a == -- ]]; then mode=w; continue; fi
        if [[ $mode == m ]]; then mgrs+=("$a"); else wrks+=("$a"); fi
    done
    local m1ip n st ids id
    m1ip=$(node_ip "$m1")
    st=$(swarm_state "$m1")
    if [[ $st != active ]]; then
        [[ $st == inactive ]] || dk exec "$m1" docker swarm leave --force >/dev/null 2>&1 || true
        log "swarm init on $m1 ($m1ip)"
        dk exec "$m1" docker swarm init --advertise-addr "$m1ip" >/dev/null
    fi
    ids=$(dk exec "$m1" docker node ls -q)
    local tok_m tok_w role tok
    tok_m=$(dk exec "$m1" docker swarm join-token -q manager)
    tok_w=$(dk exec "$m1" docker swarm join-token -q worker)
    for n in "${mgrs[@]:1}" "${wrks[@]}"; do
        [[ -n $n ]] || continue
        role=worker; tok=$tok_w
        [[ " ${mgrs[*]} " == *" $n "* ]] && { role=manager; tok=$tok_m; }
        st=$(swarm_state "$n")
        if [[ $st == active ]]; then
            id=$(swarm_node_id "$n")
            if [[ -n $id ]] && grep -qx "$id" <<<"$ids"; then continue; fi
            log "$n is in another swarm: leaving it"
            dk exec "$n" docker swarm leave --force >/dev/null 2>&1 || true
        elif [[ $st != inactive ]]; then
            dk exec "$n" docker swarm leave --force >/dev/null 2>&1 || true
        fi
        log "joining $n as $role"
        printf '%s\n' "$tok" | dk exec -i "$n" sh -c 'read -r t; exec docker swarm join --token "$t" "$1"' sh "$m1ip:2377" >/dev/null ||
            die "swarm join of $n failed"
    done
    unset tok tok_m tok_w
    # drop stale (Down) entries of our hostnames that are not the nodes' current IDs
    local cur_ids="" line hid hname hstatus
    for n in "${mgrs[@]}" "${wrks[@]}"; do cur_ids+="$(swarm_node_id "$n") "; done
    while read -r hid hname hstatus; do
        [[ -n $hid ]] || continue
        if [[ " $cur_ids " != *" $hid "* && $hstatus == Down ]]; then
            log "removing stale swarm node entry $hname ($hid)"
            dk exec "$m1" docker node demote "$hid" >/dev/null 2>&1 || true
            dk exec "$m1" docker node rm --force "$hid" >/dev/null 2>&1 || true
        fi
    done < <(dk exec "$m1" docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}')
    # wait until every node is Ready and every manager Leader/Reachable
    local i ok out
    for ((i = 0; i < 240; i++)); do
        out=$(timeout 30 "$DOCKER_BIN" exec "$m1" docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' 2>/dev/null || true)
        ok=1
        for n in "${mgrs[@]}"; do
            grep -qE "^$n Ready (Leader|Reachable)\$" <<<"$out" || { ok=0; break; }
        done
        if [[ $ok == 1 ]]; then
            for n in "${wrks[@]}"; do
                [[ -n $n ]] || continue
                grep -qE "^$n Ready \$" <<<"$out" || { ok=0; break; }
            done
        fi
        if [[ $ok == 1 ]]; then log "swarm ready: ${#mgrs[@]} managers, ${#wrks[@]} workers"; return 0; fi
        sleep 0.5
    done
    printf '%s\n' "$out" >&2
    die "swarm did not become ready within 120s"
}

# remove a node container; if it is in the swarm, take it out of the swarm first
remove_node() { # name m1
    local n=$1 m1=${2:-} id
    if [[ -n $m1 && $n != "$m1" ]] && node_running "$m1" && node_running "$n"; then
        id=$(swarm_node_id "$n")
        if [[ -n $id ]]; then
            dk exec "$m1" docker node demote "$id" >/dev/null 2>&1 || true
            dk exec "$n" docker swarm leave --force >/dev/null 2>&1 || true
            dk exec "$m1" docker node rm --force "$id" >/dev/null 2>&1 || true
        fi
    fi
    log "removing node $n"
    dk rm -f -v "$n" >/dev/null
    drop_node_cgroups "$n"
}

# the (empty) cgroups an inner engine leaves behind: /swarmadmin-lab-NAME (lab nodes) or /NAME (an engine
# installed into a fresh node with daemon.json "cgroup-parent": "/NAME")
drop_node_cgroups() { # name
    local d
    for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/*/"swarmadmin-lab-$1"; do
        [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}

# ---------------------------------------------------------------- apt proxy (apt-cacher-ng)
# Debian's apt-cacher-ng, run as a plain daemon (no systemd needed on the host) as its own user, with
# its own config folder ($ACNG_DIR/conf), logs ($ACNG_DIR/log) and cache ($ACNG_CACHE, kept between runs
# and by `down`; `down --purge` drops it). Bound to the lab gateway only, so only lab nodes (and the
# host) reach it. ForceManaged: it fetches only from the Debian archives named in its remap rules
# (deb.debian.org/debian and .../debian-security); any other URL gets 403, CONNECT tunnels are refused.
acng_pid() { pidfile_pid "$ACNG_PIDFILE" apt-cacher-ng; }
acng_answers() { gateway_port_answers "$ACNG_PORT"; }

acng_conf() {
    cat <<EOF
# written by tests/lab/lab.sh (SwarmAdmin lab apt cache)
CacheDir: $ACNG_CACHE
LogDir: $ACNG_DIR/log
SupportDir: /usr/lib/apt-cacher-ng
Port: $ACNG_PORT
BindAddress: $GATEWAY
SocketPath: $RUN_DIR/apt-cacher-ng/socket
Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian
Remap-secdeb: security.debian.org security.debian.org/debian-security deb.debian.org/debian-security /debian-security ; deb.debian.org/debian-security
Remap-labdocker: $GATEWAY:$REPO_PORT/debian ; $GATEWAY:$REPO_PORT/debian
AllowUserPorts: 80 $REPO_PORT
ForceManaged: 1
PassThroughPattern: ^$
ExThreshold: 4
ReportPage: acng-report.html
EOF
}

start_apt_proxy() {
    # running with this configuration: nothing to do (one started by an older lab.sh is restarted)
    if acng_pid >/dev/null && acng_answers && [[ $(cat "$ACNG_DIR/conf/acng.conf" 2>/dev/null) == "$(acng_conf)" ]]; then return 0; fi
    stop_apt_proxy quiet
    command -v apt-cacher-ng >/dev/null || {
        echo 'apt-cacher-ng apt-cacher-ng/tunnelenable boolean false' | debconf-set-selections 2>/dev/null || true
        host_apt_install apt-cacher-ng
    }
    id apt-cacher-ng >/dev/null 2>&1 || die "user apt-cacher-ng missing (package apt-cacher-ng not configured?)"
    ip -4 addr show dev "$NET_BRIDGE" 2>/dev/null | grep -q "inet $GATEWAY/" ||
        die "the lab bridge $NET_BRIDGE with $GATEWAY does not exist (lab not up?): cannot start the apt proxy"
    mkdir -p "$ACNG_DIR/conf" "$ACNG_DIR/log" "$ACNG_CACHE" "$RUN_DIR/apt-cacher-ng"
    acng_conf >"$ACNG_DIR/conf/acng.conf"
    echo "$FRESH_MIRROR/" >"$ACNG_DIR/conf/backends_debian"
    chown -R apt-cacher-ng:apt-cacher-ng "$ACNG_DIR/log" "$ACNG_CACHE" "$RUN_DIR/apt-cacher-ng"
    chmod 755 "$ACNG_DIR" "$ACNG_DIR/conf"; chmod 644 "$ACNG_DIR/conf"/*
    log "starting apt-cacher-ng on $APT_PROXY_URL (cache $ACNG_CACHE)"
    setsid nohup setpriv --reuid=apt-cacher-ng --regid=apt-cacher-ng --init-groups \
        /usr/sbin/apt-cacher-ng -c "$ACNG_DIR/conf" ForeGround=1 \
        >>"$ACNG_DIR/log/daemon.log" 2>&1 </dev/null 8>&- 9>&- &
    echo $! >"$ACNG_PIDFILE"
    disown || true
    local i
    for ((i = 0; i < 40; i++)); do
        acng_answers && { log "apt proxy answers at $APT_PROXY_URL"; return 0; }
        acng_pid >/dev/null || break
        sleep 0.25
    done
    tail -n 20 "$ACNG_DIR/log/daemon.log" "$ACNG_DIR/log/apt-cacher.err" >&2 2>/dev/null || true
    die "apt-cacher-ng did not start on $GATEWAY:$ACNG_PORT (logs in $ACNG_DIR/log)"
}

stop_apt_proxy() { # [quiet]
    local pid i
    if pid=$(acng_pid); then
        [[ ${1:-} == quiet ]] || log "stopping apt-cacher-ng (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$ACNG_PIDFILE"
}

apt_proxy_url_if_running() { if acng_pid >/dev/null; then echo "$APT_PROXY_URL"; fi; }

# ---------------------------------------------------------------- fresh-VM image (debootstrap)
# Debian 12 as a minimal VM has it: systemd as init, sshd, apt (sources: deb.debian.org, reachable from a
# node only through the lab apt proxy), no Docker. No SSH host keys and an empty machine-id in the image:
# every node makes its own at first boot.
fresh_masked_units() {
    # apt-daily*: a random `apt-get update`/upgrade at boot would hold the dpkg lock during tests (a real VM
    # has them; Install-SwarmEngine should wait for the lock anyway).
    # e2scrub_*/fstrim/dpkg-db-backup: jobs for real disks/maintenance, meaningless in a container.
    echo apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
        e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer \
        getty@tty1.service console-getty.service
}

fresh_build_hash() {
    {
        echo "rev=$BUILD_REV suite=$FRESH_SUITE mirror=$FRESH_MIRROR packages=$FRESH_PACKAGES masked=$(fresh_masked_units)"
        cat "$LAB_DIR/fresh-node-boot.sh"
        declare -f build_fresh_rootfs fresh_masked_units
    } | sha256sum | cut -c1-16
}

umount_under() { # dir : lazily unmount whatever a killed debootstrap left mounted below dir
    local d=$1 m
    [[ -d $d ]] || return 0
    d=$(readlink -f "$d")
    while read -r m; do
        [[ -n $m ]] && umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$d/" 'index($2 "/", d) == 1 { print $2 }' /proc/mounts | sort -r)
}

build_fresh_rootfs() { # rootfs
    local root=$1 debs=$CACHE_DIR/debootstrap/$FRESH_SUITE u f
    command -v debootstrap >/dev/null || host_apt_install debootstrap
    umount_under "$(dirname "$root")"
    rm -rf --one-file-system "$root"
    mkdir -p "$root" "$debs"
    log "debootstrap $FRESH_SUITE (minbase + $FRESH_PACKAGES), .debs cached in $debs"
    debootstrap --variant=minbase --cache-dir="$debs" --include="$FRESH_PACKAGES" \
        "$FRESH_SUITE" "$root" "$FRESH_MIRROR" >"$(dirname "$root")/debootstrap.log" 2>&1 || {
        tail -n 30 "$(dirname "$root")/debootstrap.log" "$root/debootstrap/debootstrap.log" >&2 2>/dev/null || true
        umount_under "$(dirname "$root")"
        die "debootstrap of Debian $FRESH_SUITE failed (log: $(dirname "$root")/debootstrap.log)"
    }
    umount_under "$root"
    # keep only the .debs this build used in the debootstrap cache
    for f in "$debs"/*.deb; do
        [[ -e $f && ! -e $root/var/cache/apt/archives/${f##*/} ]] && rm -f "$f"
    done
    [[ -x $root/lib/systemd/systemd && -x $root/usr/sbin/sshd && -x $root/usr/bin/apt-get ]] ||
        die "debootstrap result lacks systemd, sshd or apt"
    [[ ! -e $root/usr/bin/dockerd ]] || die "the fresh image must not contain Docker"

    # apt: Debian's archive (through a proxy only: nodes have no route out); no lists, no .debs in the image
    cat >"$root/etc/apt/sources.list" <<EOF
deb $FRESH_MIRROR $FRESH_SUITE main
deb $FRESH_MIRROR $FRESH_SUITE-updates main
deb http://deb.debian.org/debian-security $FRESH_SUITE-security main
EOF
    rm -rf "$root/var/lib/apt/lists" "$root/var/cache/apt"
    mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
    # identity: no machine-id (systemd makes one at first boot), no SSH host keys (lab-fresh-boot makes them)
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"; ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
    rm -f "$root"/etc/ssh/ssh_host_*
    echo debian >"$root/etc/hostname"
    printf 'LANG=C.UTF-8\n' >"$root/etc/default/locale" # as the Debian installer writes it (pam_env reads it)
    printf 'nameserver 127.0.0.1\n' >"$root/etc/resolv.conf"
    # sshd: key-only root login (Debian's defaults otherwise; PAM stays on as on a VM)
    mkdir -p "$root/etc/ssh/sshd_config.d"
    cat >"$root/etc/ssh/sshd_config.d/swarmadmin-lab.conf" <<'EOF'
# SwarmAdmin lab fresh node
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxStartups 64:30:128
MaxSessions 64
EOF
    # boot-time setup (lab key, host keys, no default route, apt proxy) before ssh.service
    install -m 0755 "$LAB_DIR/fresh-node-boot.sh" "$root/usr/local/sbin/lab-fresh-boot"
    cat >"$root/etc/systemd/system/lab-fresh-boot.service" <<'EOF'
[Unit]
Description=SwarmAdmin lab node setup (lab key, SSH host keys, no default route, apt proxy)
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target ssh.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/lab-fresh-boot

[Install]
WantedBy=sysinit.target
EOF
    mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
    ln -sfn /etc/systemd/system/lab-fresh-boot.service "$root/etc/systemd/system/sysinit.target.wants/lab-fresh-boot.service"
    for u in $(fresh_masked_units); do
        rm -f "$root/etc/systemd/system/"*.wants/"$u"
        ln -sfn /dev/null "$root/etc/systemd/system/$u"
    done
    # what a container never needs
    rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" \
        "$root/debootstrap" "$root/var/log/"*.log "$root/var/log/apt/"* "$root/tmp/"* "$root/var/tmp/"*
    find "$root/dev" -mindepth 1 -delete 2>/dev/null || true
    log "fresh rootfs: $(. "$root/etc/os-release"; echo "$PRETTY_NAME"), $(du -sh --one-file-system "$root" | cut -f1)"
}

fresh_image_build() { # the cached tarball's hash must match the image label; builds what is missing
    local h tarball cur root tb
    h=$(fresh_build_hash)
    cur=$(dk image inspect --format '{{index .Config.Labels "swarmadmin-lab.build"}}' "$FRESH_IMAGE" 2>/dev/null || true)
    if [[ $cur == "$h" ]]; then log "fresh image $FRESH_IMAGE is cached (build $h)"; return 0; fi
    tarball=$CACHE_DIR/fresh-12-$h.tar
    if [[ ! -s $tarball ]]; then
        tb=$(date +%s)
        root=$CACHE_DIR/build/fresh-12/rootfs
        log "building the fresh-VM rootfs (Debian $FRESH_SUITE, debootstrap)"
        build_fresh_rootfs "$root"
        tar -C "$root" --numeric-owner --xattrs --xattrs-include='security.capability' -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf --one-file-system "$CACHE_DIR/build/fresh-12"
        find "$CACHE_DIR" -maxdepth 1 -name 'fresh-12-*.tar' ! -name "fresh-12-$h.tar" -delete
        log "fresh rootfs tarball $tarball ($(du -h "$tarball" | cut -f1)) built in $(($(date +%s) - tb))s"
    fi
    tb=$(date +%s)
    log "importing $FRESH_IMAGE"
    # (docker import has no STOPSIGNAL change: run_fresh_node passes --stop-signal SIGRTMIN+3)
    dk import \
        --change 'CMD ["/sbin/init"]' \
        --change 'ENV container=docker' \
        --change "LABEL swarmadmin-lab.build=$h swarmadmin-lab.fresh=12" \
        "$tarball" "$FRESH_IMAGE" >/dev/null
    dk image prune -f >/dev/null 2>&1 || true
    log "imported $FRESH_IMAGE in $(($(date +%s) - tb))s"
}

fresh_build_running() {
    local pid
    [[ -s $FRESH_PIDFILE ]] || return 1
    pid=$(cat "$FRESH_PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# `up`: start the fresh image build in the background (it overlaps the tests; add-fresh-node waits for it)
start_fresh_build_bg() {
    local h cur
    h=$(fresh_build_hash)
    cur=$(dk image inspect --format '{{index .Config.Labels "swarmadmin-lab.build"}}' "$FRESH_IMAGE" 2>/dev/null || true)
    if [[ $cur == "$h" ]]; then log "fresh image $FRESH_IMAGE is cached (build $h)"; return 0; fi
    if fresh_build_running >/dev/null; then log "fresh image build already running (log $FRESH_LOG)"; return 0; fi
    mkdir -p "$VAR_DIR" "$RUN_DIR"
    log "building $FRESH_IMAGE in the background (log $FRESH_LOG)"
    # own session + process group (down kills it); fds 8/9 (locks) are not inherited
    setsid nohup bash "$LAB_DIR/lab.sh" build-fresh >"$FRESH_LOG" 2>&1 </dev/null 8>&- 9>&- &
    echo $! >"$FRESH_PIDFILE"
    disown || true
}

stop_fresh_build() {
    local pid
    if pid=$(fresh_build_running); then
        log "stopping the background fresh image build (pid $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$FRESH_PIDFILE"
    umount_under "$CACHE_DIR/build"
    rm -rf --one-file-system "$CACHE_DIR/build/fresh-12"
}

# wait for a running build (lock), then build whatever is still missing in this process
ensure_fresh_image() {
    local t0 waited
    mkdir -p "$RUN_DIR"
    t0=$(date +%s)
    exec 8>"$FRESH_LOCK"
    if ! flock -n 8; then
        log "waiting for the fresh image build (started by lab.sh up; log $FRESH_LOG; timeout ${FRESH_BUILD_TIMEOUT}s)"
        if ! flock -w "$FRESH_BUILD_TIMEOUT" 8; then
            tail -n 25 "$FRESH_LOG" >&2 2>/dev/null || true
            die "the fresh image build did not finish within ${FRESH_BUILD_TIMEOUT}s (last lines of $FRESH_LOG above; LAB_FRESH_BUILD_TIMEOUT sets the limit)"
        fi
        waited=$(($(date +%s) - t0))
        log "fresh image build finished after waiting ${waited}s"
    fi
    if [[ -s $FRESH_LOG ]] && grep -q 'ERROR' "$FRESH_LOG" && [[ $(dk image inspect --format '{{index .Config.Labels "swarmadmin-lab.build"}}' "$FRESH_IMAGE" 2>/dev/null) != "$(fresh_build_hash)" ]]; then
        log "the background fresh image build failed; its last lines:"
        tail -n 15 "$FRESH_LOG" >&2 || true
        log "building it again now"
    fi
    fresh_image_build
    flock -u 8
    exec 8>&-
}

# ---------------------------------------------------------------- fresh nodes
run_fresh_node() { # name ip apt_proxy(or "") [cpus]
    local name=$1 ip=$2 proxy=$3 cpus=${4:-}
    local limit=()
    [[ -z $cpus ]] || limit=(--cpus "$cpus")
    log "starting fresh node $name ($ip, $FRESH_IMAGE, systemd)"
    # systemd in a container on this cgroup v1 host: host cgroup tree rw (systemd manages its own subtree,
    # the inner dockerd later needs it too), tmpfs /run and /run/lock, container=docker, SIGRTMIN+3 to stop.
    # The rest is what a Docker engine installed later needs: the same as run_node.
    dk run -d --name "$name" --hostname "$name" \
        --network "$NET_NAME" --ip "$ip" \
        --cap-add ALL --cap-drop SYS_RESOURCE \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v /var/lib/docker \
        --tmpfs /run:rw,nosuid,nodev,mode=755 --tmpfs /run/lock:rw,nosuid,nodev,noexec,mode=1777 \
        --stop-signal SIGRTMIN+3 --stop-timeout 30 --log-opt max-size=1m --log-opt max-file=2 \
        --label swarmadmin-lab.node=1 --label swarmadmin-lab.role=fresh --label swarmadmin-lab.engine=none "${limit[@]}" \
        -e container=docker -e "LAB_NODE_NAME=$name" -e "LAB_AUTHORIZED_KEY=$(cat "$KEY_PATH.pub")" \
        -e "LAB_APT_PROXY=$proxy" \
        "$FRESH_IMAGE" >/dev/null
}

wait_fresh_ready() { # name [timeout] : sshd answers (with the lab key); logs the systemd state
    local name=$1 timeout=${2:-120} i ip opts st
    ip=$(node_ip "$name")
    mapfile -t opts < <(ssh_probe_opts)
    for ((i = 0; i < timeout * 4; i++)); do
        node_running "$name" || { dk logs --tail 30 "$name" >&2 || true; die "fresh node $name stopped (see: docker logs $name)"; }
        if timeout 10 ssh "${opts[@]}" "root@$ip" true </dev/null >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.25
    done
    dk exec "$name" systemctl --no-pager --failed >&2 2>/dev/null || true
    dk exec "$name" journalctl --no-pager -n 30 -u ssh -u lab-fresh-boot >&2 2>/dev/null || true
    die "fresh node $name: sshd not answering after ${timeout}s"
}

fresh_system_state() { # name : systemctl is-system-running (waits for boot to finish, max 60s)
    local st
    st=$(timeout 60 "$DOCKER_BIN" exec "$1" systemctl is-system-running --wait 2>/dev/null || true)
    echo "${st:-unknown}"
}

set_os_release() { # name ID[:VERSION] : replace /etc/os-release (an "unsupported OS" node)
    local n=$1 id=${2%%:*} ver=""
    [[ $2 == *:* ]] && ver=${2#*:}
    [[ $id =~ ^[a-z0-9._-]+$ && $ver =~ ^[A-Za-z0-9._-]*$ ]] || die "--os-release: ID[:VERSION] with [a-z0-9._-] only"
    log "replacing /etc/os-release of $n: ID=$id${ver:+ VERSION_ID=$ver}"
    dk exec "$n" sh -c 'rm -f /etc/os-release && {
        printf "PRETTY_NAME=\"%s%s (SwarmAdmin lab: fake os-release)\"\nNAME=\"%s\"\nID=%s\n" "$1" "${2:+ $2}" "$1" "$1"
        [ -z "$2" ] || printf "VERSION_ID=\"%s\"\n" "$2"; } > /etc/os-release' sh "$id" "$ver"
}

# ---------------------------------------------------------------- commands
cmd_up() {
    local managers=3 workers=2 spare=0 engine=26 state=""
    while (($#)); do
        case $1 in
            --managers) managers=${2:?}; shift 2 ;;
            --workers) workers=${2:?}; shift 2 ;;
            --spare) spare=${2:?}; shift 2 ;;
            --engine) engine=${2:?}; shift 2 ;;
            --state) state=${2:?}; shift 2 ;;
            *) die "up: unknown option $1" ;;
        esac
    done
    [[ $managers =~ ^[0-9]+$ && $workers =~ ^[0-9]+$ && $spare =~ ^[0-9]+$ ]] || die "counts must be numbers"
    ((managers >= 1 && managers <= 9 && workers <= 9 && spare <= 9)) || die "managers must be 1..9, workers/spare 0..9"
    engine_suite "$engine" >/dev/null
    resolve_state_path "$state" nomemo
    take_lock
    ensure_host_packages
    start_outer
    local n img
    while read -r n; do
        [[ -n $n && $n =~ ^${NODE_PREFIX}[mws][0-9]+$ ]] || continue
        img=$(dk container inspect --format '{{.Config.Image}}' "$n")
        [[ $img == "$(node_image "$engine")" ]] ||
            die "node $n runs $img, not $(node_image "$engine"); run 'lab.sh down' first to change the engine"
    done < <(lab_containers)
    local tb
    tb=$(date +%s)
    ensure_node_image "$engine"
    ensure_busybox_tar
    log "images ready in $(($(date +%s) - tb))s"
    ensure_network
    ensure_keys
    # the fresh-VM image (add-fresh-node) builds in the background while the lab and the tests run;
    # neither it nor the apt proxy may fail `up`
    ( start_fresh_build_bg ) || log "WARNING: could not start the fresh image build (add-fresh-node will build it)"
    ( start_apt_proxy ) || log "WARNING: the apt proxy did not start (add-fresh-node will try again)"

    local -a mnames=() wnames=() snames=() all=()
    local i n
    for ((i = 1; i <= managers; i++)); do mnames+=("${NODE_PREFIX}m$i"); done
    for ((i = 1; i <= workers; i++)); do wnames+=("${NODE_PREFIX}w$i"); done
    for ((i = 1; i <= spare; i++)); do snames+=("${NODE_PREFIX}s$i"); done
    all=("${mnames[@]}" "${wnames[@]}" "${snames[@]}")

    # shrink: remove m/w/s nodes beyond the requested shape (add-node nodes are kept)
    while read -r n; do
        [[ -n $n ]] || continue
        if [[ $n =~ ^${NODE_PREFIX}[mws][0-9]+$ ]]; then
            [[ " ${all[*]} " == *" $n "* ]] || remove_node "$n" "${mnames[0]}"
        elif [[ $(node_authorized_key "$n") != "$(cat "$KEY_PATH.pub")" ]]; then
            remove_node "$n" "" # an add-node node of a lab with another key
        fi
    done < <(lab_containers)

    for ((i = 1; i <= managers; i++)); do ensure_node "${NODE_PREFIX}m$i" "$NET_PREFIX.$((10 + i))" manager "$engine"; done
    for ((i = 1; i <= workers; i++)); do ensure_node "${NODE_PREFIX}w$i" "$NET_PREFIX.$((20 + i))" worker "$engine"; done
    for ((i = 1; i <= spare; i++)); do ensure_node "${NODE_PREFIX}s$i" "$NET_PREFIX.$((30 + i))" spare "$engine"; done

    for_nodes prepare_node "${all[@]}" || die "some nodes did not come up (see above)"
    log "all ${#all[@]} nodes answer (dockerd + sshd) and have $BUSYBOX_IMAGE"

    form_swarm "${mnames[0]}" "${mnames[@]}" -- "${wnames[@]}"

    # known_hosts for every lab node (including add-node ones), then a strict SSH check of each
    local tmp
    tmp=$(mktemp "$STATE_DIR/.known_hosts.XXXX")
    while read -r n; do
        [[ -n $n ]] && node_running "$n" && known_hosts_lines "$n" "$(node_ip "$n")" >>"$tmp"
    done < <(lab_containers)
    chmod 644 "$tmp"; mv "$tmp" "$KNOWN_HOSTS"
    for_nodes strict_ssh_check "${all[@]}" || die "strict SSH check (lab key + known_hosts) failed"
    log "SSH with the lab key and known_hosts works on all nodes"
    write_state "$(node_image "$engine")"
    log "lab is up in $(($(date +%s) - T0))s: ${#mnames[@]} managers, ${#wnames[@]} workers, ${#snames[@]} spare; state: $STATE_PATH"
}

cmd_down() {
    local purge=0 state=""
    while (($#)); do
        case $1 in
            --purge) purge=1; shift ;;
            --state) state=${2:?}; shift 2 ;;
            *) die "down: unknown option $1" ;;
        esac
    done
    resolve_state_path "$state"
    take_lock
    stop_fresh_build
    stop_apt_proxy
    stop_docker_repo
    if find_docker_cli; then
        local started_here=0
        if ! outer_alive && [[ -d $OUTER_DATA_ROOT/containers ]] && [[ -n $(ls -A "$OUTER_DATA_ROOT/containers" 2>/dev/null) ]] &&
            command -v dockerd >/dev/null; then
            log "outer dockerd not running but has containers: starting it to clean up"
            start_outer; started_here=1
        fi
        if outer_alive; then
            local n
            while read -r n; do [[ -n $n ]] && { log "removing $n"; dk rm -f -v "$n" >/dev/null || true; }; done < <(
                { lab_containers; dk ps -a --filter "name=^${NODE_PREFIX}" --format '{{.Names}}'; } | sort -u)
            if dk network inspect "$NET_NAME" >/dev/null 2>&1; then
                log "removing network $NET_NAME"; dk network rm "$NET_NAME" >/dev/null || true
            fi
            dk volume prune -f >/dev/null 2>&1 || true
            if [[ $purge == 1 ]]; then
                local img
                for img in $(dk images --format '{{.Repository}}:{{.Tag}}' | grep '^swarmadmin-lab/' || true); do
                    log "removing image $img"; dk rmi -f "$img" >/dev/null || true
                done
            fi
        fi
        : "$started_here"
    fi
    stop_outer
    rm -rf "$OUTER_EXEC_ROOT" 2>/dev/null || true
    # leftover inner cgroups (empty once the nodes are gone)
    find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d \( -name 'swarmadmin-lab-*' -o -name "${NODE_PREFIX}*" \) 2>/dev/null | while read -r d; do
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    if [[ -d $STATE_DIR ]]; then
        log "removing lab state in $STATE_DIR"
        rm -f "$STATE_PATH" "$STATE_PATH.tmp" "$KEY_PATH" "$KEY_PATH.pub" "$KNOWN_HOSTS" "$KNOWN_HOSTS.old" "$SSH_CONFIG" "$STATE_DIR"/.known_hosts.*
        rm -f "$SSH_WRAPPER_DIR/ssh"; rmdir "$SSH_WRAPPER_DIR" 2>/dev/null || true
        rmdir "$STATE_DIR" 2>/dev/null || true
    fi
    rm -f "$STATE_PATH_MEMO"
    if [[ $purge == 1 ]]; then
        log "purging caches ($CACHE_DIR, $OUTER_DATA_ROOT)"
        umount_under "$CACHE_DIR"
        rm -rf --one-file-system "$CACHE_DIR" "$OUTER_DATA_ROOT" "$ACNG_DIR"
    fi
    log "lab is down"
}

cmd_status() {
    local state=""
    while (($#)); do
        case $1 in --state) state=${2:?}; shift 2 ;; *) die "status: unknown option $1" ;; esac
    done
    resolve_state_path "$state"
    if [[ -s $STATE_PATH ]]; then echo "# state: $STATE_PATH"; cat "$STATE_PATH"; else echo "# no state file at $STATE_PATH"; fi
    find_docker_cli || { echo "# no docker CLI"; exit 1; }
    if ! outer_alive; then echo "# outer dockerd: not running"; exit 1; fi
    echo "# outer dockerd: running ($OUTER_SOCK)"
    if acng_pid >/dev/null; then echo "# apt proxy: running ($APT_PROXY_URL)"; else echo "# apt proxy: not running"; fi
    if fresh_build_running >/dev/null; then echo "# fresh image: building (log $FRESH_LOG)"
    elif dk image inspect "$FRESH_IMAGE" >/dev/null 2>&1; then echo "# fresh image: $FRESH_IMAGE"
    else echo "# fresh image: not built"; fi
    local n
    while read -r n; do
        [[ -n $n ]] || continue
        printf '%-14s %-8s %-14s %s\n' "$n" "$(dk container inspect --format '{{.State.Status}}' "$n")" \
            "$(node_ip "$n" 2>/dev/null)" "$(node_label "$n" swarmadmin-lab.role)"
    done < <(lab_containers)
}

need_node() { # name
    [[ -n ${1:-} ]] || usage
    require_outer
    [[ $(node_label "$1" swarmadmin-lab.node 2>/dev/null) == 1 ]] || die "no lab node named '$1'"
}

cmd_stop_node() {
    local n=${1:-} kill=0
    shift || true
    while (($#)); do
        case $1 in --kill) kill=1; shift ;; *) die "stop-node: unknown option $1" ;; esac
    done
    need_node "$n"
    if [[ $kill == 1 ]]; then
        log "killing $n (SIGKILL, no clean shutdown)"
        dk kill "$n" >/dev/null
    else
        log "stopping $n"
        dk stop "$n" >/dev/null
    fi
}

cmd_remove_node() {
    local n=${1:-} state="" m1 ip
    shift || true
    while (($#)); do
        case $1 in --state) state=${2:?}; shift 2 ;; *) die "remove-node: unknown option $1" ;; esac
    done
    need_node "$n"
    resolve_state_path "$state"
    take_lock
    m1=${NODE_PREFIX}m1
    node_exists "$m1" || m1=""
    ip=$(node_ip "$n" 2>/dev/null || true)
    remove_node "$n" "$m1"
    if [[ -n $ip && -s $KNOWN_HOSTS ]]; then
        local tmp
        tmp=$(mktemp "$STATE_DIR/.known_hosts.XXXX")
        awk -v ip="$ip" -v n="$n" '{ split($1, a, ","); for (i in a) if (a[i] == ip || a[i] == n) next; print }' "$KNOWN_HOSTS" >"$tmp"
        chmod 644 "$tmp"; mv "$tmp" "$KNOWN_HOSTS"
    fi
    if [[ -s $STATE_PATH ]]; then
        local img
        img=$(jq -r '.EngineImage // empty' "$STATE_PATH" 2>/dev/null || true)
        write_state "${img:-$(node_image 26)}"
    fi
    log "node $n removed"
}

cmd_start_node() {
    local n=${1:-} wait_swarm=0 state=""
    shift || true
    while (($#)); do
        case $1 in --wait-swarm) wait_swarm=1; shift ;; --state) state=${2:?}; shift 2 ;; *) die "start-node: unknown option $1" ;; esac
    done
    need_node "$n"
    resolve_state_path "$state"
    local t
    t=$(date +%s)
    log "starting $n"
    dk start "$n" >/dev/null
    wait_node_ready "$n"
    if [[ $wait_swarm == 1 && $(swarm_state "$n") != inactive ]]; then
        local i st
        for ((i = 0; i < 120; i++)); do
            st=$(swarm_state "$n")
            [[ $st == active ]] && break
            sleep 0.5
        done
        [[ $st == active ]] || die "$n did not rejoin the swarm (state $st)"
    fi
    log "$n is up again in $(($(date +%s) - t))s"
}

# the lab's known_hosts takes the node's current host keys again (after regen-hostkey, for the tests that follow)
cmd_trust_hostkey() {
    local n=${1:-}
    need_node "$n"
    resolve_state_path ""
    take_lock
    known_hosts_update "$n" "$(node_ip "$n")"
    log "known_hosts has the current host keys of $n"
}

cmd_regen_hostkey() {
    local n=${1:-}
    need_node "$n"
    resolve_state_path ""
    log "regenerating SSH host keys of $n and restarting its sshd"
    if [[ $(node_label "$n" swarmadmin-lab.role) == fresh ]]; then
        dk exec "$n" sh -c 'set -e; rm -f /etc/ssh/ssh_host_*; ssh-keygen -A >/dev/null; systemctl restart ssh'
        wait_node_ready "$n" 30
        log "host keys of $n replaced (known_hosts NOT updated)"
        return 0
    fi
    dk exec "$n" sh -c '
        set -e
        rm -f /etc/ssh/ssh_host_*
        ssh-keygen -A >/dev/null
        pid=$(cat /run/sshd.pid 2>/dev/null || true)
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true
            i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
        fi
        rm -f /run/sshd.pid
        /usr/sbin/sshd -E /var/log/sshd.log'
    wait_node_ready "$n" 30
    log "host keys of $n replaced (known_hosts NOT updated)"
}

cmd_add_node() {
    local n=${1:-} ip="" engine=26 state=""
    [[ -n $n && $n != -* ]] || die "add-node: NAME required"
    shift
    while (($#)); do
        case $1 in
            --address) ip=${2:?}; shift 2 ;;
            --engine) engine=${2:?}; shift 2 ;;
            --state) state=${2:?}; shift 2 ;;
            *) die "add-node: unknown option $1" ;;
        esac
    done
    [[ $n =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || die "invalid node name '$n'"
    [[ $ip =~ ^${NET_PREFIX//./\\.}\.([0-9]+)$ ]] || die "--address must be in $SUBNET"
    ((BASH_REMATCH[1] >= 2 && BASH_REMATCH[1] <= 254)) || die "--address out of range"
    engine_suite "$engine" >/dev/null
    resolve_state_path "$state"
    take_lock
    require_outer
    dk network inspect "$NET_NAME" >/dev/null 2>&1 || die "lab network missing; run lab.sh up"
    [[ -s $KEY_PATH.pub ]] || die "no lab key at $KEY_PATH; run lab.sh up"
    node_exists "$n" && die "a container named $n already exists"
    local other
    while read -r other; do
        [[ -n $other && $(node_ip "$other" 2>/dev/null) == "$ip" ]] && die "$ip is already used by $other"
    done < <(lab_containers)
    ensure_host_packages
    ensure_node_image "$engine"
    ensure_busybox_tar
    run_node "$n" "$ip" spare "$engine"
    wait_node_ready "$n"
    ensure_busybox_in_node "$n"
    known_hosts_update "$n" "$ip"
    local img
    img=$(jq -r '.EngineImage // empty' "$STATE_PATH" 2>/dev/null || true)
    write_state "${img:-$(node_image 26)}"
    log "node $n added ($ip, engine $engine, not joined)"
}

cmd_add_fresh_node() {
    local n=${1:-} ip="" state="" osrel="" use_proxy=1 cpus=""
    [[ -n $n && $n != -* ]] || die "add-fresh-node: NAME required"
    shift
    while (($#)); do
        case $1 in
            --address) ip=${2:?}; shift 2 ;;
            --state) state=${2:?}; shift 2 ;;
            --os-release) osrel=${2:?}; shift 2 ;;
            --no-apt-proxy) use_proxy=0; shift ;;
            --cpus) cpus=${2:?}; shift 2 ;;
            *) die "add-fresh-node: unknown option $1" ;;
        esac
    done
    [[ $n =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || die "invalid node name '$n'"
    [[ $ip =~ ^${NET_PREFIX//./\\.}\.([0-9]+)$ ]] || die "--address must be in $SUBNET (fresh nodes: $NET_PREFIX.91-99)"
    ((BASH_REMATCH[1] >= 2 && BASH_REMATCH[1] <= 254)) || die "--address out of range"
    resolve_state_path "$state"
    require_outer
    dk network inspect "$NET_NAME" >/dev/null 2>&1 || die "lab network missing; run lab.sh up"
    [[ -s $KEY_PATH.pub ]] || die "no lab key at $KEY_PATH; run lab.sh up"
    if node_exists "$n"; then
        [[ $(node_label "$n" swarmadmin-lab.role 2>/dev/null) == fresh ]] || die "a container named $n already exists (not a fresh node)"
        [[ $(node_ip "$n" 2>/dev/null) == "$ip" ]] || ! node_running "$n" || die "fresh node $n exists with address $(node_ip "$n")"
        [[ -z $cpus ]] || die "--cpus: fresh node $n exists already (its CPU limit is set when it is made: remove-node it first)"
        if node_running "$n"; then log "fresh node $n is already running: nothing to do"; return 0; fi
    fi
    local t
    # (waits for the background build of `up` before taking the lab lock: other lab commands go on meanwhile)
    t=$(date +%s)
    ensure_fresh_image
    log "fresh image ready in $(($(date +%s) - t))s"
    take_lock
    ensure_host_packages
    local proxy=""
    # the lab's APT cache runs either way (state file: AptProxy); --no-apt-proxy only leaves the node unconfigured
    start_apt_proxy
    if [[ $use_proxy == 1 ]]; then proxy=$APT_PROXY_URL; fi
    t=$(date +%s)
    if node_exists "$n"; then
        log "starting stopped fresh node $n"
        dk start "$n" >/dev/null
    else
        local other
        while read -r other; do
            [[ -n $other && $(node_ip "$other" 2>/dev/null) == "$ip" ]] && die "$ip is already used by $other"
        done < <(lab_containers)
        [[ -z $cpus || ( $cpus =~ ^[0-9]+(\.[0-9]+)?$ && ! $cpus =~ ^0+(\.0*)?$ ) ]] || die "--cpus: a number of CPUs above 0 (0.5)"
        run_fresh_node "$n" "$ip" "$proxy" "$cpus"
    fi
    wait_fresh_ready "$n"
    log "fresh node $n answers over SSH $(($(date +%s) - t))s after docker run"
    [[ -z $osrel ]] || set_os_release "$n" "$osrel"
    known_hosts_update "$n" "$ip"
    local st
    st=$(fresh_system_state "$n")
    if [[ $st == running ]]; then
        log "systemd on $n: $st ($(($(date +%s) - t))s after docker run)"
    else
        log "WARNING: systemd on $n: $st; failed units:"
        dk exec "$n" systemctl --no-pager --no-legend --failed >&2 || true
    fi
    local img
    img=$(jq -r '.EngineImage // empty' "$STATE_PATH" 2>/dev/null || true)
    write_state "${img:-$(node_image 26)}"
    log "fresh node $n added ($ip, Debian 12 + systemd, no Docker${proxy:+, apt proxy $proxy})"
}

cmd_build_fresh() {
    (($# == 0)) || die "build-fresh takes no options"
    find_docker_cli || die "no docker CLI found"
    outer_alive || die "the outer dockerd is not running (lab.sh up starts it)"
    mkdir -p "$RUN_DIR"
    # (started by `up`, the pid file holds this pid already; started by hand: record it unless another runs)
    fresh_build_running >/dev/null || echo $$ >"$FRESH_PIDFILE"
    log "fresh image build (pid $$)"
    exec 8>"$FRESH_LOCK"
    flock -w "$FRESH_BUILD_TIMEOUT" 8 || die "another fresh image build holds $FRESH_LOCK"
    fresh_image_build
    flock -u 8
    [[ $(cat "$FRESH_PIDFILE" 2>/dev/null) == "$$" ]] && rm -f "$FRESH_PIDFILE"
    log "fresh image $FRESH_IMAGE ready after $(($(date +%s) - T0))s"
}

cmd_apt_proxy() {
    case ${1:-status} in
        start) take_lock; start_apt_proxy; echo "$APT_PROXY_URL" ;;
        stop) take_lock; stop_apt_proxy ;;
        status) if acng_pid >/dev/null && acng_answers; then echo "running: $APT_PROXY_URL"; else echo "not running"; exit 1; fi ;;
        *) die "apt-proxy: start, stop or status" ;;
    esac
}

# ---------------------------------------------------------------- docker-ce repository (docker-repo)
repo_httpd_pid() { pidfile_pid "$REPO_PIDFILE" httpd; }
stop_docker_repo() {
    local pid
    if pid=$(repo_httpd_pid); then kill -TERM "$pid" 2>/dev/null || true; fi
    rm -f "$REPO_PIDFILE"
}
# The packages: docker.io of Debian 12 (fetched through the lab's cache) renamed docker-ce with Docker's version
# scheme (5:X.Y.Z-1~debian.12~bookworm), an empty docker-ce-cli (docker.io carries the CLI) and a containerd.io that
# depends on Debian's containerd and runc. Signed with a key made here (never leaves $REPO_DIR).
build_docker_repo() {
    local work=$REPO_DIR.tmp deb ver up
    rm -rf "$work"; mkdir -p "$work/dl"
    log "docker-repo: fetching Debian's docker.io through $APT_PROXY_URL"
    dk run --rm --network "$NET_NAME" --entrypoint /bin/bash -v "$work/dl:/dl" "$FRESH_IMAGE" -c \
        "set -e; cd /dl; apt-get -q -o Acquire::http::Proxy=$APT_PROXY_URL update >/dev/null; apt-get -q -o APT::Sandbox::User=root -o Acquire::http::Proxy=$APT_PROXY_URL download docker.io >/dev/null; chmod 644 /dl/*.deb" ||
        die "docker-repo: could not download docker.io through the lab's apt cache"
    deb=$(ls "$work"/dl/docker.io_*.deb) || die "docker-repo: no docker.io package downloaded"
    dpkg-deb -R "$deb" "$work/io"
    ver=$(sed -n 's/^Version: //p' "$work/io/DEBIAN/control")
    up=${ver#*:}; up=${up%%[+-]*}
    [[ $up =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "docker-repo: unexpected docker.io version '$ver'"
    # one build per release, as Docker's repository has (the same engine, versions that name the release): bookworm,
    # and bullseye for a node whose os-release says Debian 11 (Install-SwarmEngine picks each release's build)
    local rel codename num dver d
    for rel in 12:bookworm 11:bullseye; do
        num=${rel%%:*}; codename=${rel#*:}
        dver="5:$up-1~debian.$num~$codename"
        mkdir -p "$work/debian/pool/$codename" "$work/debian/dists/$codename/stable/binary-amd64"
        rm -rf "$work/ce" "$work/cli" "$work/ctd"
        cp -a "$work/io" "$work/ce"
        sed -i -e "s/^Package: .*/Package: docker-ce/" -e "s/^Version: .*/Version: $dver/" \
            -e '/^Conflicts:/d' -e '/^Replaces:/d' -e '/^Breaks:/d' -e '/^Provides:/d' -e '/^Recommends:/d' -e '/^Suggests:/d' "$work/ce/DEBIAN/control"
        sed -i "s/^Depends: /Depends: docker-ce-cli, containerd.io, /" "$work/ce/DEBIAN/control"
        printf 'Conflicts: docker.io, docker-engine\nReplaces: docker.io\n' >>"$work/ce/DEBIAN/control"
        mkdir -p "$work/cli/DEBIAN" "$work/cli/usr/share/doc/docker-ce-cli" "$work/ctd/DEBIAN" "$work/ctd/usr/share/doc/containerd.io"
        echo "lab package: the docker CLI comes with docker-ce here" >"$work/cli/usr/share/doc/docker-ce-cli/README"
        echo "lab package: Debian's containerd and runc" >"$work/ctd/usr/share/doc/containerd.io/README"
        printf 'Package: docker-ce-cli\nVersion: %s\nArchitecture: amd64\nMaintainer: SwarmAdmin lab <lab@localhost>\nDescription: Docker CLI (SwarmAdmin lab repository)\n' "$dver" >"$work/cli/DEBIAN/control"
        printf 'Package: containerd.io\nVersion: 1.6.20-1~debian.%s~%s\nArchitecture: amd64\nDepends: containerd, runc\nMaintainer: SwarmAdmin lab <lab@localhost>\nDescription: containerd (SwarmAdmin lab repository)\n' "$num" "$codename" >"$work/ctd/DEBIAN/control"
        for d in ce cli ctd; do
            dpkg-deb --root-owner-group -Zgzip -z1 -b "$work/$d" "$work/debian/pool/$codename/" >/dev/null
        done
        (
            cd "$work/debian"
            apt-ftparchive packages "pool/$codename" >"dists/$codename/stable/binary-amd64/Packages"
            gzip -9kn "dists/$codename/stable/binary-amd64/Packages"
            apt-ftparchive -o APT::FTPArchive::Release::Origin=SwarmAdminLab -o APT::FTPArchive::Release::Label=SwarmAdminLab \
                -o APT::FTPArchive::Release::Suite="$codename" -o APT::FTPArchive::Release::Codename="$codename" \
                -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=stable \
                release "dists/$codename" >"dists/$codename/Release"
        )
        [[ $codename == bookworm ]] && echo "$dver" >"$work/version"
    done
    local gh=$work/gnupg
    mkdir -p "$gh"; chmod 700 "$gh"
    gpg --homedir "$gh" --batch --quiet --passphrase '' --quick-gen-key 'SwarmAdmin lab repository <lab@localhost>' ed25519 sign never
    gpg --homedir "$gh" --batch --quiet --armor --export >"$work/key.asc"
    for codename in bookworm bullseye; do
        gpg --homedir "$gh" --batch --quiet --yes --clearsign -o "$work/debian/dists/$codename/InRelease" "$work/debian/dists/$codename/Release"
        gpg --homedir "$gh" --batch --quiet --yes -abs -o "$work/debian/dists/$codename/Release.gpg" "$work/debian/dists/$codename/Release"
    done
    # a second key that signed nothing: "the wrong key" for tests
    local gh2=$work/gnupg-other
    mkdir -p "$gh2"; chmod 700 "$gh2"
    gpg --homedir "$gh2" --batch --quiet --passphrase '' --quick-gen-key 'Not the lab repository <other@localhost>' ed25519 sign never
    gpg --homedir "$gh2" --batch --quiet --armor --export >"$work/other-key.asc"
    gpgconf --homedir "$gh" --kill all 2>/dev/null || true
    gpgconf --homedir "$gh2" --kill all 2>/dev/null || true
    # (the signing key is not kept: the folder is served, and a rebuild makes a new key)
    rm -rf "$work/dl" "$work/io" "$work/ce" "$work/cli" "$work/ctd" "$gh" "$gh2"
    echo "$(repo_build_hash)" >"$work/build-hash"
    rm -rf "$REPO_DIR"; mv "$work" "$REPO_DIR"
    # the apt cache's copies of the previous build (it would resume them with Range requests: "unexpected range")
    rm -rf "${ACNG_CACHE:?}/labdocker"
    log "docker-repo: built docker-ce $(cat "$REPO_DIR/version") (and its bullseye build) in $REPO_DIR"
}
repo_build_hash() { declare -f build_docker_repo | sha256sum | cut -c1-16; }

cmd_docker_repo() {
    local state=""
    while (($#)); do
        case $1 in
            --state) state=${2:?}; shift 2 ;;
            *) die "docker-repo: unknown option $1" ;;
        esac
    done
    resolve_state_path "$state"
    require_outer
    dk network inspect "$NET_NAME" >/dev/null 2>&1 || die "lab network missing; run lab.sh up"
    ensure_fresh_image
    take_lock
    ensure_host_packages
    start_apt_proxy
    if [[ ! -s $REPO_DIR/debian/dists/bookworm/InRelease || $(cat "$REPO_DIR/build-hash" 2>/dev/null) != "$(repo_build_hash)" ]]; then
        # (busybox httpd serves the folder it started in: a running one would go on serving the replaced one)
        stop_docker_repo
        build_docker_repo
    else
        log "docker-repo: cached in $REPO_DIR"
    fi
    if ! repo_httpd_pid >/dev/null; then
        local bb
        bb=$(command -v busybox) || die "busybox not found"
        setsid nohup "$bb" httpd -f -p "$GATEWAY:$REPO_PORT" -h "$REPO_DIR" >/dev/null 2>&1 </dev/null 8>&- 9>&- &
        echo $! >"$REPO_PIDFILE"
        disown || true
        local i
        for ((i = 0; i < 40; i++)); do
            gateway_port_answers "$REPO_PORT" && break
            sleep 0.25
        done
        repo_httpd_pid >/dev/null || die "busybox httpd did not start on $GATEWAY:$REPO_PORT"
        log "docker-repo: served at $REPO_URL"
    fi
    local v
    v=$(cat "$REPO_DIR/version")
    jq -n --arg uri "$REPO_URL" --arg key "$REPO_DIR/key.asc" --arg other "$REPO_DIR/other-key.asc" --arg ver "$v" \
        --arg v11 "$(echo "$v" | sed 's/~debian\.12~bookworm$/~debian.11~bullseye/')" \
        '{Uri: $uri, Key: $key, OtherKey: $other, Version: $ver, BullseyeVersion: $v11}'
}

cmd_exec() {
    local n=${1:-}
    need_node "$n"
    shift
    [[ ${1:-} == -- ]] && shift
    (($#)) || die "exec: command required (lab.sh exec NAME -- cmd...)"
    local t=()
    [[ -t 0 && -t 1 ]] && t=(-t)
    exec "$DOCKER_BIN" exec -i "${t[@]}" "$n" "$@"
}

cmd_build() {
    local engine=26
    while (($#)); do
        case $1 in --engine) engine=${2:?}; shift 2 ;; *) die "build: unknown option $1" ;; esac
    done
    engine_suite "$engine" >/dev/null
    take_lock
    ensure_host_packages
    start_outer
    ensure_node_image "$engine"
    ensure_busybox_tar
    log "built $(node_image "$engine") in $(($(date +%s) - T0))s"
}

main() {
    [[ $(id -u) == 0 ]] || die "lab.sh must run as root"
    local cmd=${1:-}
    (($#)) && shift
    case $cmd in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        stop-node) cmd_stop_node "$@" ;;
        start-node) cmd_start_node "$@" ;;
        regen-hostkey) cmd_regen_hostkey "$@" ;;
        trust-hostkey) cmd_trust_hostkey "$@" ;;
        add-node) cmd_add_node "$@" ;;
        add-fresh-node) cmd_add_fresh_node "$@" ;;
        build-fresh) cmd_build_fresh "$@" ;;
        apt-proxy) cmd_apt_proxy "$@" ;;
        docker-repo) cmd_docker_repo "$@" ;;
        remove-node) cmd_remove_node "$@" ;;
        exec) cmd_exec "$@" ;;
        build) cmd_build "$@" ;;
        -h | --help | help | "") usage ;;
        *) die "unknown command '$cmd' (up, down, status, stop-node, start-node, regen-hostkey, add-node, add-fresh-node, remove-node, exec, build, build-fresh, apt-proxy, docker-repo)" ;;
    esac
}

main "$@"
