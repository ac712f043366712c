<#
.SYNOPSIS
    Speed of Get-SwarmNode against `docker -H ssh://... node ls`, same lab, same run; and module import time.
    Targets (issue "Foundation"): ratio <= 0.1; Import-Module <= 0.5 s.
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json'),
    [int]$Count = 50
)
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

Invoke-WithLabSsh {
    Invoke-DockerCli @('node', 'ls')   # warm-up, and proof it works
    $script:cli = Measure-Command { for ($i = 0; $i -lt $Count; $i++) { Invoke-DockerCli @('node', 'ls') } }
}

Import-Module $ModulePath -Force
Connect-SwarmCluster -Endpoint $DockerHostArg -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath | Out-Null
Get-SwarmNode | Out-Null  # warm-up
$ours = Measure-Command { for ($i = 0; $i -lt $Count; $i++) { Get-SwarmNode | Out-Null } }
Disconnect-SwarmCluster

"Get-SwarmNode x{0}: {1:N1} ms/call; docker -H ssh:// node ls x{0}: {2:N1} ms/call" -f $Count, ($ours.TotalMilliseconds / $Count), ($cli.TotalMilliseconds / $Count)
Write-Ratio "Get-SwarmNode x$Count vs docker -H ssh:// node ls x$Count" $ours $cli 0.1

# Import time in a new pwsh, measured inside it (process start excluded), best of 5.
$times = foreach ($i in 1..5) {
    [double](& dotnet pwsh -NoProfile -NonInteractive -Command "`$s=[Diagnostics.Stopwatch]::StartNew(); Import-Module '$ModulePath'; `$s.Elapsed.TotalSeconds")
}
$best = ($times | Measure-Object -Minimum).Minimum
"Import-Module: best {0:N3} s of 5 (runs: {1}) (target <= 0.5 s) {2}" -f $best, (($times | ForEach-Object { $_.ToString('N3') }) -join ', '), $(if ($best -le 0.5) { 'OK' } else { 'MISSED' })
