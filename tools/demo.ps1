<#
.SYNOPSIS
    The main job, from nothing, on this machine: the Proxmox VE simulator plays three Proxmox hosts, SwarmAdmin clones
    the 7 VMs of examples/lab/cluster.yml (3 managers, 3 infra workers, 1 management worker; each started VM becomes
    a lab node), builds the swarm with the file's roles and labels, deploys the reference stacks, and ends with the
    quorum report and the node table.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Demo
.NOTES
    Safe to run again: existing VMs' lab nodes are reused, the swarm is found again, Sync-SwarmCluster has nothing to
    do and Deploy-SwarmStack sends nothing for unchanged services. `./build.ps1 -Task LabDown` removes everything.
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json'),
    [double]$TimeScale = 0.1
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force
$env:SWARMADMIN_LAB_STATE = (Resolve-Path $LabState).Path
. (Join-Path $PSScriptRoot '../tests/lab/ProxmoxSim.ps1')
function Show([string]$Title, [scriptblock]$Body) {
    Write-Host "`n# $Title" -ForegroundColor Yellow
    # wide enough for the tables even when the terminal is not
    & $Body | Out-String -Width 160 | Write-Host
}

$clusterFile = Join-Path $PSScriptRoot '../examples/lab/cluster.yml'
$sim = Start-ProxmoxLabSim -TimeScale $TimeScale
try {
    Show 'Connect-SwarmProxmox to the simulated Proxmox VE (API token, certificate pinned by fingerprint)' {
        Connect-SwarmProxmox -Endpoint $sim.Url -TokenId $sim.TokenId -TokenSecret $sim.TokenSecret -CertificateFingerprint $sim.Fingerprint
    }
    Show 'Its templates (Get-SwarmVm -IncludeTemplate)' { Get-SwarmVm -IncludeTemplate }
    $config = Import-SwarmClusterConfig -Path $clusterFile
    Show "The cluster file $clusterFile (Import-SwarmClusterConfig)" { $config.Nodes }
    Show 'Sync-SwarmCluster -WhatIf: the plan from nothing' { Sync-SwarmCluster -Config $config -Template debian-12-cloudinit -WhatIf 6>$null }
    Show 'Import-SwarmClusterConfig | New-SwarmVm: 7 VMs cloned, configured and started in parallel, waited for until SSH answers' {
        $script:vms = $config | New-SwarmVm -Template debian-12-cloudinit -ThrottleLimit 4 -TimeoutSec 600
        $vms
    }
    Show 'The swarm: Initialize-Swarm on the first manager, Join-SwarmNode for the others (roles, labels, proxmox.host)' {
        $first = $vms | Where-Object Role -eq 'Manager' | Sort-Object Name | Select-Object -First 1
        Initialize-Swarm -Node $first | Out-Null
        $vms | Where-Object Name -ne $first.Name | Join-SwarmNode -ThrottleLimit 4
    }
    Show 'Sync-SwarmCluster: the cluster now matches the file, nothing to do' {
        $steps = @(Sync-SwarmCluster -Config $config -Template debian-12-cloudinit)
        "$($steps.Count) step(s) planned"
    }
    Show 'Deploy the reference stacks (Portainer-like UI on the node labelled portainer.data=true, web on managers, monitoring everywhere, infra on workers)' {
        & (Join-Path $PSScriptRoot '../examples/deploy-stacks.ps1') -TimeoutSec 180 -ResolveImage Never   # the lab has no registry
    }
    Show 'Where their tasks run' { Get-SwarmTask -Stack portainer, web -DesiredState running | Select-Object ServiceName, Node, CurrentState }
    Show 'Deploy again: nothing changed, so nothing is sent and no task restarts' {
        Deploy-SwarmStack -Name web -Path (Join-Path $PSScriptRoot '../examples/stacks/web.yml') -ResolveImage Never | Select-Object -ExpandProperty Services
    }
    Show 'Test-SwarmQuorum: 3 managers on 3 Proxmox hosts (failure domains from the proxmox.host labels)' { Test-SwarmQuorum }
    Show 'Get-SwarmNode (reads like docker node ls)' { Get-SwarmNode | Sort-Object Hostname }
}
finally {
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
    Stop-ProxmoxSim $sim
    Write-Host "`nThe 7 VMs stay as lab nodes (swarmlab-app1..3, swarmlab-infra1..3, swarmlab-mgmt); ./build.ps1 -Task LabDown removes them." -ForegroundColor DarkGray
}
