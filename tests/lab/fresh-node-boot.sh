#!/bin/sh
# Boot-time setup of a SwarmAdmin lab "fresh VM" node (image swarmadmin-lab/fresh:12, systemd as PID 1).
# Installed as /usr/local/sbin/lab-fresh-boot and run by lab-fresh-boot.service on EVERY boot, early
# (before sysinit.target and ssh.service). It does what cloud-init would do on a real VM:
#   - lab key -> /root/.ssh/authorized_keys (from LAB_AUTHORIZED_KEY in PID 1's environment, i.e. the
#     container's environment: systemd does not pass it on to services)
#   - SSH host keys made on the first boot (the image has none, so every node has its own)
#   - isolation as on every lab node: no default route, no DNS server (nameserver 127.0.0.1)
#   - first boot only: the apt proxy (LAB_APT_PROXY, the lab's apt-cacher-ng) into
#     /etc/apt/apt.conf.d/01swarmadmin-lab-proxy, as a VM on an offline network would be configured
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 022

envof1() { tr '\0' '\n' </proc/1/environ 2>/dev/null | sed -n "s/^$1=//p" | head -n 1; }

# --- isolation: nothing may leave the lab network (the apt proxy is ON the lab network) ---
ip route del default 2>/dev/null || true
ip -6 route del default 2>/dev/null || true
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >/etc/resolv.conf 2>/dev/null ||
    echo "lab-fresh-boot: cannot write /etc/resolv.conf" >&2

# --- SSH: own host keys, lab key for root ---
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
    echo "lab-fresh-boot: generating SSH host keys"
    ssh-keygen -A
fi
mkdir -p /root/.ssh
chmod 0700 /root /root/.ssh
key=$(envof1 LAB_AUTHORIZED_KEY)
if [ -n "$key" ]; then
    printf '%s\n' "$key" >/root/.ssh/authorized_keys
    chmod 0600 /root/.ssh/authorized_keys
else
    echo "lab-fresh-boot: WARNING: LAB_AUTHORIZED_KEY is empty: nobody can log in over SSH" >&2
fi

# --- first boot only ---
marker=/var/lib/swarmadmin-lab/first-boot-done
if [ ! -e "$marker" ]; then
    proxy=$(envof1 LAB_APT_PROXY)
    if [ -n "$proxy" ]; then
        printf '// written at first boot by the SwarmAdmin lab: this node reaches Debian only through the lab apt cache\nAcquire::http::Proxy "%s";\n' \
            "$proxy" >/etc/apt/apt.conf.d/01swarmadmin-lab-proxy
    fi
    mkdir -p "${marker%/*}"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$marker"
fi
exit 0
