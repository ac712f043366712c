<#
.SYNOPSIS
    Building the 7-node lab cluster of examples/lab/cluster.yml through the Proxmox simulator (its VMs are lab nodes):
    `New-SwarmVm` with the default -ThrottleLimit 4 against -ThrottleLimit 1, same file, same run, then the swarm
    (Initialize-Swarm + Join-SwarmNode) on the parallel build. Target (issue "Proxmox VE"): parallel / serial <= 0.5.
    The simulator runs at -TimeScale (default 0.25: a linked clone takes 0.5 s, boot to guest agent 5 s).
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json'),
    [double]$TimeScale = 0.25
)
$ErrorActionPreference = 'Stop'
$env:SWARMADMIN_LAB_STATE = (Resolve-Path $LabState).Path
$env:SWARMADMIN_MODULE = (Resolve-Path $ModulePath).Path
. (Join-Path $PSScriptRoot '../tests/Pester/Common.ps1')   # Invoke-Lab; the simulator helpers of tests/lab/ProxmoxSim.ps1
$configPath = Join-Path $PSScriptRoot '../examples/lab/cluster.yml'
$config = Import-SwarmClusterConfig $configPath

$sim = Start-ProxmoxLabSim -TimeScale $TimeScale
try {
    Connect-SwarmProxmox -Endpoint $sim.Url -TokenId $sim.TokenId -TokenSecret $sim.TokenSecret -CertificateFingerprint $sim.Fingerprint | Out-Null
    $serial = Measure-Command { $vms = $config | New-SwarmVm -Template debian-12-cloudinit -ThrottleLimit 1 -TimeoutSec 600 }
    if (@($vms).Count -ne 7) { throw "the serial build made $(@($vms).Count) VMs" }
    Stop-ProxmoxSim $sim
    foreach ($n in $config.Nodes) { try { Invoke-Lab remove-node $n.Name | Out-Null } catch { } }

    $sim = Start-ProxmoxLabSim -TimeScale $TimeScale
    Connect-SwarmProxmox -Endpoint $sim.Url -TokenId $sim.TokenId -TokenSecret $sim.TokenSecret -CertificateFingerprint $sim.Fingerprint | Out-Null
    $parallel = Measure-Command { $vms = $config | New-SwarmVm -Template debian-12-cloudinit -ThrottleLimit 4 -TimeoutSec 600 }
    if (@($vms).Count -ne 7) { throw "the parallel build made $(@($vms).Count) VMs" }
    $swarm = Measure-Command {
        $first = $vms | Where-Object Role -eq 'Manager' | Sort-Object Name | Select-Object -First 1
        Initialize-Swarm -Node $first | Out-Null
        $vms | Where-Object Name -ne $first.Name | Join-SwarmNode -ThrottleLimit 4 | Out-Null
    }
    $nodes = @(Get-SwarmNode)
    if ($nodes.Count -ne 7) { throw "the swarm has $($nodes.Count) nodes, not 7" }
    Disconnect-SwarmCluster
}
finally {
    Stop-ProxmoxSim $sim
    foreach ($n in $config.Nodes) { try { Invoke-Lab remove-node $n.Name | Out-Null } catch { } }
}

$ratio = $parallel.TotalSeconds / $serial.TotalSeconds
"7 VMs from examples/lab/cluster.yml (simulator time scale {0}): New-SwarmVm -ThrottleLimit 4 {1:N1} s, -ThrottleLimit 1 {2:N1} s" -f $TimeScale, $parallel.TotalSeconds, $serial.TotalSeconds
"then Initialize-Swarm + Join-SwarmNode of the 7: {0:N1} s; cluster from the file in {1:N1} s" -f $swarm.TotalSeconds, ($parallel + $swarm).TotalSeconds
"New-SwarmVm parallel vs serial: ratio {0:N3} (target <= 0.5) {1}" -f $ratio, $(if ($ratio -le 0.5) { 'OK' } else { 'MISSED' })
