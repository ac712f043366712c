#!/usr/bin/env bash
# Hook of the Proxmox VE simulator (tests/ProxmoxSimulator --on-start/--on-stop): a simulated VM's QEMU process is a
# lab node. Start: a node named like the VM with the VM's cloud-init static IP (created with `lab.sh add-node`, or
# started again if it exists); stop: the node is stopped; destroy: the node is removed. The lab key is authorised in
# every node; the VM's cloud-init SSH keys are added to root's authorized_keys, and its cores and memory become the
# container's limits (cores capped at this machine's CPUs).
# Environment from the simulator: SIM_EVENT (start|stop|reboot|destroy), SIM_NAME, SIM_IP, SIM_VMID, SIM_NODE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=(bash "$here/lab.sh")
sock=${SWARMADMIN_LAB_SOCKET:-/run/swarmadmin-lab/docker.sock}
exists() { DOCKER_HOST="unix://$sock" docker container inspect "$SIM_NAME" >/dev/null 2>&1; }

case "${SIM_EVENT:-}" in
    start | reboot)
        [[ -n ${SIM_IP:-} ]] || { echo "VM $SIM_NAME has no static ipconfig0 address; a lab node needs one" >&2; exit 1; }
        if exists; then
            [[ $SIM_EVENT == reboot ]] && "${lab[@]}" stop-node "$SIM_NAME" >&2
            "${lab[@]}" start-node "$SIM_NAME" >&2
        else
            "${lab[@]}" add-node "$SIM_NAME" --address "$SIM_IP" >&2
        fi
        # the VM's size as container limits (CPUs capped at what this machine has), and its cloud-init SSH keys
        cpus=${SIM_CORES:-0}; max=$(nproc); ((cpus > max)) && cpus=$max
        args=()
        ((cpus > 0)) && args+=(--cpus "$cpus")
        [[ -n ${SIM_MEMORY_MB:-} && ${SIM_MEMORY_MB} -gt 0 ]] && args+=(--memory "${SIM_MEMORY_MB}m" --memory-swap "${SIM_MEMORY_MB}m")
        ((${#args[@]})) && DOCKER_HOST="unix://$sock" docker update "${args[@]}" "$SIM_NAME" >/dev/null
        if [[ -n ${SIM_SSHKEYS:-} ]]; then
            printf '%s\n' "$SIM_SSHKEYS" | DOCKER_HOST="unix://$sock" docker exec -i "$SIM_NAME" sh -c \
                'mkdir -p /root/.ssh && touch /root/.ssh/authorized_keys && while IFS= read -r k; do [ -n "$k" ] && { grep -qxF "$k" /root/.ssh/authorized_keys || echo "$k" >> /root/.ssh/authorized_keys; }; done && chmod 600 /root/.ssh/authorized_keys'
        fi
        ;;
    stop)
        if exists; then "${lab[@]}" stop-node "$SIM_NAME" >&2; fi
        ;;
    destroy)
        if exists; then "${lab[@]}" remove-node "$SIM_NAME" >&2; fi
        ;;
    *) echo "unknown SIM_EVENT '${SIM_EVENT:-}'" >&2; exit 2 ;;
esac
