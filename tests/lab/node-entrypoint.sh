#!/bin/sh
# Entrypoint of a SwarmAdmin lab node (runs under tini as PID 1, on EVERY container start).
# Starts sshd (key-only root login) and a unix-socket-only dockerd, then waits.
# Environment:
#   LAB_AUTHORIZED_KEY  public key written to /root/.ssh/authorized_keys
#   LAB_NODE_NAME       node name (default: hostname), used for the inner cgroup parent
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 022
name=${LAB_NODE_NAME:-$(hostname)}

log() { echo "[lab-node $name] $*"; }

# --- stale runtime state from a previous start (a real machine has /run on tmpfs) ---
rm -rf /run/docker /run/containerd /run/docker.pid /run/docker.sock /run/sshd.pid /run/xtables.lock
mkdir -p /run/sshd /var/log /tmp /root/.ssh /var/lib/docker
chmod 0755 /run/sshd
chmod 1777 /tmp
chmod 0700 /root /root/.ssh

# --- isolation: nothing may leave the lab network ---
# No default route: traffic to any address outside the lab subnet (a registry, a public DNS server
# that dockerd falls back to, ...) fails at once with "network unreachable" inside this node, whatever
# the outer host's forwarding settings are. No DNS server either: name lookups (e.g. dockerd asking for
# registry-1.docker.io) fail at once instead of timing out.
ip route del default 2>/dev/null || true
ip -6 route del default 2>/dev/null || true
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > /etc/resolv.conf 2>/dev/null || log "cannot write /etc/resolv.conf"

# --- sshd ---
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
    log "generating SSH host keys"
    ssh-keygen -A >/dev/null
fi
if [ -n "${LAB_AUTHORIZED_KEY:-}" ]; then
    printf '%s\n' "$LAB_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
    chmod 0600 /root/.ssh/authorized_keys
else
    log "WARNING: LAB_AUTHORIZED_KEY is empty: nobody can log in over SSH"
fi
hostkeys=""
for t in ed25519 ecdsa rsa; do
    [ -s "/etc/ssh/ssh_host_${t}_key" ] && hostkeys="${hostkeys}HostKey /etc/ssh/ssh_host_${t}_key
"
done
sftp=/usr/lib/openssh/sftp-server
cat > /etc/ssh/sshd_config <<EOF
# written by the SwarmAdmin lab entrypoint
Port 22
${hostkeys}PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 64:30:128
MaxSessions 64
PidFile /run/sshd.pid
Subsystem sftp $sftp
EOF
chmod 0644 /etc/ssh/sshd_config
if /usr/sbin/sshd -t; then
    /usr/sbin/sshd -E /var/log/sshd.log || log "ERROR: sshd failed to start"
else
    log "ERROR: sshd configuration test failed"
fi

# --- dockerd: unix socket only, own cgroup parent ---
# DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: swarm tasks use the local image (lab/busybox:1) without
# trying a registry first (there is none).
DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 dockerd --cgroup-parent="/swarmadmin-lab-$name" -H unix:///var/run/docker.sock \
    --shutdown-timeout 5 >>/var/log/dockerd.log 2>&1 &
dpid=$!
log "started sshd and dockerd (pid $dpid)"

stop() {
    log "stopping"
    kill -TERM "$dpid" 2>/dev/null
    [ -s /run/sshd.pid ] && kill -TERM "$(cat /run/sshd.pid)" 2>/dev/null
    i=0
    while kill -0 "$dpid" 2>/dev/null && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
    exit 0
}
trap stop TERM INT

# Keep the container alive; restart nothing.
while :; do
    sleep 86400 &
    wait $!
done
