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

# --- dockerd: unix socket only, own cgroup parent, managed by /etc/init.d/docker ---
# There is no systemd in a lab node, so the engine gets a SysV-style init script as on a machine without
# systemd: SwarmAdmin's Backup-/Restore-SwarmManager stop and start the engine with it over SSH, as they do
# with systemctl on a VM. DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: swarm tasks use the local image
# (lab/busybox:1) without trying a registry first (there is none).
mkdir -p /etc/init.d
sed "s/@NAME@/$name/" > /etc/init.d/docker <<'INIT'
#!/bin/sh
# /etc/init.d/docker of SwarmAdmin lab node @NAME@ (written by the lab entrypoint)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PIDFILE=/var/run/docker.pid
running() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
case "$1" in
  start)
    running && exit 0
    rm -f "$PIDFILE"
    cd / && DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid dockerd --cgroup-parent=/swarmadmin-lab-@NAME@ \
      -H unix:///var/run/docker.sock --shutdown-timeout 5 >>/var/log/dockerd.log 2>&1 </dev/null &
    exit 0 ;;
  stop)
    running || exit 0
    kill -TERM "$(cat "$PIDFILE")"
    i=0
    while running && [ $i -lt 160 ]; do sleep 0.25; i=$((i + 1)); done
    running && kill -KILL "$(cat "$PIDFILE")"
    exit 0 ;;
  restart) "$0" stop; "$0" start ;;
  status) if running; then echo "dockerd is running"; else echo "dockerd is not running"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
INIT
chmod 0755 /etc/init.d/docker
/etc/init.d/docker start
log "started sshd and dockerd"

stop() {
    log "stopping"
    /etc/init.d/docker stop
    [ -s /run/sshd.pid ] && kill -TERM "$(cat /run/sshd.pid)" 2>/dev/null
    exit 0
}
trap stop TERM INT

# Keep the container alive; restart nothing.
while :; do
    sleep 86400 &
    wait $!
done
