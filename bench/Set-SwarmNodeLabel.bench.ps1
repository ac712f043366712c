<#
.SYNOPSIS
    Labelling every lab node: `Get-SwarmNode | Set-SwarmNodeLabel -Add ...` against a loop of
    `docker -H ssh://... node update --label-add` over the same nodes, same lab, same run.
    Target (issue "Node operations and quorum"): ratio <= 0.2.
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json'),
    [int]$Rounds = 3
)
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
$nodes = @($Lab.Nodes | Where-Object Joined | ForEach-Object Name)

# Every round writes a new value, so every node really changes each time for both tools.
Invoke-WithLabSsh {
    Invoke-DockerCli @('node', 'ls')
    $script:cli = Measure-Command {
        for ($r = 1; $r -le $Rounds; $r++) { foreach ($n in $nodes) { Invoke-DockerCli @('node', 'update', '--label-add', "bench.cli=$r", $n) } }
    }
}

Import-Module $ModulePath -Force
Connect-SwarmCluster -Endpoint $DockerHostArg -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath | Out-Null
Get-SwarmNode | Out-Null
$ours = Measure-Command {
    for ($r = 1; $r -le $Rounds; $r++) { Get-SwarmNode | Set-SwarmNodeLabel -Add @{ 'bench.ps' = "$r" } | Out-Null }
}
$check = Get-SwarmNode | Where-Object { $_.Labels['bench.ps'] -ne "$Rounds" }
if ($check) { throw "labels were not applied on: $($check.Hostname -join ', ')" }
Get-SwarmNode | Set-SwarmNodeLabel -Remove bench.ps, bench.cli | Out-Null
Disconnect-SwarmCluster

"{0} nodes x {1} rounds: Set-SwarmNodeLabel {2:N1} ms/node, docker node update {3:N1} ms/node" -f $nodes.Count, $Rounds, ($ours.TotalMilliseconds / ($nodes.Count * $Rounds)), ($cli.TotalMilliseconds / ($nodes.Count * $Rounds))
Write-Ratio "Get-SwarmNode | Set-SwarmNodeLabel vs docker node update --label-add loop" $ours $cli 0.2
