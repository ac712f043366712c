<#
.SYNOPSIS
    The main job on the local lab: connect to the swarm over SSH, look at it, label nodes and check the quorum,
    the way an admin would.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Demo
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json')
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force
$lab = Get-Content $LabState -Raw | ConvertFrom-Json
$managers = $lab.Nodes | Where-Object { $_.Role -eq 'manager' -and $_.Joined } | ForEach-Object { "ssh://root@$($_.Address)" }
function Show([string]$Title, [scriptblock]$Body) {
    Write-Host "`n# $Title" -ForegroundColor Yellow
    # wide enough for the tables even when the terminal is not
    & $Body | Out-String -Width 160 | Write-Host
}

Show 'Connect-SwarmCluster over SSH to the managers (host keys checked against the lab''s known_hosts)' {
    Connect-SwarmCluster -Endpoint $managers -KeyFile $lab.KeyPath -KnownHostsPath $lab.KnownHostsPath
}
Show 'Get-SwarmNode (reads like docker node ls)' { Get-SwarmNode }
Show 'Label the workers, as the reference cluster''s placement rules expect' {
    Get-SwarmNode -Role Worker | Set-SwarmNodeLabel -Add @{ 'node.tier' = 'infra' } | Select-Object Hostname, Role, Labels
}
Show 'Find them again by label' { Get-SwarmNode -Label node.tier=infra | Select-Object Hostname, Labels }
Show 'Test-SwarmQuorum: 3 managers, tolerance 1' { Test-SwarmQuorum }
Show 'Capacity: live, against what running services reserve' { Get-SwarmCapacity }
$config = Import-SwarmClusterConfig -Path (Join-Path $PSScriptRoot 'cluster.yml')
Show 'The reference cluster from examples/cluster.yml (parsed, never contacted)' { $config.Nodes }
Show 'Its resource table (Get-SwarmCapacity -Config)' { Get-SwarmCapacity -Config $config }
Show '50 calls over the one open SSH connection' {
    $t = Measure-Command { 1..50 | ForEach-Object { Get-SwarmNode | Out-Null } }
    "{0} calls in {1:N2} s ({2:N1} ms each)" -f 50, $t.TotalSeconds, ($t.TotalMilliseconds / 50)
}
$mgmt = (Get-SwarmNode -Role Worker | Sort-Object Hostname | Select-Object -Last 1).Hostname
Show "Deploy the reference stacks (Portainer-like UI pinned to $mgmt by its portainer.data label) and wait" {
    & (Join-Path $PSScriptRoot 'deploy-stacks.ps1') -PortainerNode $mgmt -TimeoutSec 180
}
Show 'Where their tasks run' { Get-SwarmTask -Stack portainer, web -DesiredState running | Select-Object ServiceName, Node, CurrentState }
Show 'Deploy again: nothing changed, so nothing is sent and no task restarts' {
    Deploy-SwarmStack -Name web -Path (Join-Path $PSScriptRoot 'stacks/web.yml') -ResolveImage Never | Select-Object -ExpandProperty Services
}
Show 'Remove the stacks, waiting for their tasks so the networks go too' {
    Get-SwarmStack -Name portainer, web, monitoring, infra | Remove-SwarmStack -Wait -Confirm:$false
    Get-SwarmStack
}
Set-SwarmNodeLabel -Name $mgmt -Remove 'portainer.data' | Out-Null
Get-SwarmNode -Role Worker | Set-SwarmNodeLabel -Remove 'node.tier' | Out-Null
Disconnect-SwarmCluster
