<#
.SYNOPSIS
    The main job on the local lab: connect to the swarm over SSH and look at it the way an admin would.
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

Write-Host "`n# Connect-SwarmCluster over SSH to the managers (host keys checked against the lab's known_hosts)" -ForegroundColor Yellow
$ctx = Connect-SwarmCluster -Endpoint $managers -KeyFile $lab.KeyPath -KnownHostsPath $lab.KnownHostsPath
$ctx | Format-Table | Out-Host

Write-Host "# Get-SwarmNode (reads like docker node ls)" -ForegroundColor Yellow
Get-SwarmNode | Format-Table | Out-Host

Write-Host "# The managers, and who leads" -ForegroundColor Yellow
Get-SwarmNode -Role Manager | Select-Object Hostname, ManagerStatus, Address, EngineVersion | Format-Table | Out-Host

Write-Host "# Capacity per role" -ForegroundColor Yellow
Get-SwarmNode | Group-Object Role | ForEach-Object {
    [pscustomobject]@{ Role = $_.Name; Nodes = $_.Count; CPUs = ($_.Group | Measure-Object CPUs -Sum).Sum; MemoryGiB = [math]::Round(($_.Group | Measure-Object MemoryBytes -Sum).Sum / 1GB, 1) }
} | Format-Table | Out-Host

Write-Host "# 50 calls over the one open SSH connection" -ForegroundColor Yellow
$t = Measure-Command { 1..50 | ForEach-Object { Get-SwarmNode | Out-Null } }
"{0} calls in {1:N2} s ({2:N1} ms each)" -f 50, $t.TotalSeconds, ($t.TotalMilliseconds / 50) | Out-Host

Disconnect-SwarmCluster
