# Shared by every Pester file: imports the built module and describes the running lab.
$ErrorActionPreference = 'Stop'
$script:ModulePath = $env:SWARMADMIN_MODULE
if (-not $script:ModulePath) { $script:ModulePath = Join-Path $PSScriptRoot '../../out/SwarmAdmin' }
$script:LabStatePath = $env:SWARMADMIN_LAB_STATE
if (-not $script:LabStatePath) { $script:LabStatePath = Join-Path $PSScriptRoot '../../out/lab/state.json' }
$script:LabScript = (Resolve-Path (Join-Path $PSScriptRoot '../lab/lab.sh')).Path
$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path

Import-Module $script:ModulePath -Force
$script:Lab = Get-Content $script:LabStatePath -Raw | ConvertFrom-Json
$script:Managers = @($script:Lab.Nodes | Where-Object { $_.Role -eq 'manager' -and $_.Joined })
$script:Workers = @($script:Lab.Nodes | Where-Object { $_.Role -eq 'worker' -and $_.Joined })
$script:Spares = @($script:Lab.Nodes | Where-Object { -not $_.Joined })

function Get-LabEndpoint([string]$Name, [int]$Port = 22) {
    $node = $script:Lab.Nodes | Where-Object Name -eq $Name
    if (-not $node) { throw "No lab node $Name" }
    if ($Port -eq 22) { "ssh://root@$($node.Address)" } else { "ssh://root@$($node.Address):$Port" }
}

function Connect-Lab {
    param([string[]]$Endpoint = @($script:Managers | ForEach-Object { Get-LabEndpoint $_.Name }), [int]$TimeoutSec = 10, [switch]$NoDefault)
    Connect-SwarmCluster -Endpoint $Endpoint -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -TimeoutSec $TimeoutSec -NoDefault:$NoDefault
}

# Runs tests/lab/lab.sh (fault injection: stop-node, start-node, regen-hostkey, exec).
function Invoke-Lab {
    $output = & bash $script:LabScript @args 2>&1
    if ($LASTEXITCODE -ne 0) { throw "lab.sh $($args -join ' ') failed: $output" }
    $output
}

# docker CLI inside a lab node (to check what SwarmAdmin did, independently of it).
function Invoke-LabDocker([string]$Node, [string[]]$Arguments) {
    $env:DOCKER_HOST = $script:Lab.DockerHost
    try {
        $out = & docker exec $Node docker @Arguments 2>&1
        if ($LASTEXITCODE -ne 0) { throw "docker $($Arguments -join ' ') on $Node failed: $out" }
        $out
    }
    finally { Remove-Item Env:DOCKER_HOST -ErrorAction SilentlyContinue }
}

# Waits until every manager is Ready and Reachable/Leader again (after fault injection).
function Wait-LabHealthy([int]$TimeoutSec = 90) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    do {
        try {
            $lines = Invoke-LabDocker $script:Managers[0].Name @('node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}')
            $bad = @($lines | Where-Object { $_ -notmatch ' Ready' -or ($_ -match 'swarmlab-m' -and $_ -notmatch '(Leader|Reachable)$') })
            if ($bad.Count -eq 0) { return }
        }
        catch { }
        Start-Sleep -Seconds 1
    } while ([DateTime]::UtcNow -lt $deadline)
    throw "The lab did not become healthy within $TimeoutSec s"
}

# The Proxmox VE simulator: Start-ProxmoxSim, Start-ProxmoxLabSim, Stop-ProxmoxSim, Invoke-ProxmoxSim.
. (Join-Path $script:RepoRoot 'tests/lab/ProxmoxSim.ps1')
