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
$ErrorActionPreference = 'Stop'
$lab = Get-Content $LabState -Raw | ConvertFrom-Json
$m1 = $lab.Nodes | Where-Object { $_.Role -eq 'manager' -and $_.Joined } | Select-Object -First 1

# The docker CLI runs `ssh`: the lab's wrapper (out/lab/bin/ssh) gives it the lab key and known_hosts with strict checking.
$docker = (Get-Command docker -CommandType Application | Select-Object -First 1).Source
$oldPath = $env:PATH
try {
    $env:PATH = (Join-Path (Split-Path $LabState) 'bin') + [IO.Path]::PathSeparator + $env:PATH
    & $docker -H "ssh://root@$($m1.Address)" node ls | Out-Null   # warm-up, and proof it works
    if ($LASTEXITCODE -ne 0) { throw 'docker -H ssh:// node ls failed' }
    $cli = Measure-Command { for ($i = 0; $i -lt $Count; $i++) { & $docker -H "ssh://root@$($m1.Address)" node ls | Out-Null } }
}
finally { $env:PATH = $oldPath }

Import-Module $ModulePath -Force
Connect-SwarmCluster -Endpoint "ssh://root@$($m1.Address)" -KeyFile $lab.KeyPath -KnownHostsPath $lab.KnownHostsPath | Out-Null
Get-SwarmNode | Out-Null  # warm-up
$ours = Measure-Command { for ($i = 0; $i -lt $Count; $i++) { Get-SwarmNode | Out-Null } }
Disconnect-SwarmCluster

$ratio = $ours.TotalSeconds / $cli.TotalSeconds
"Get-SwarmNode x{0}: {1:N3} s ({2:N1} ms/call); docker -H ssh:// node ls x{0}: {3:N3} s ({4:N1} ms/call)" -f $Count, $ours.TotalSeconds, ($ours.TotalMilliseconds / $Count), $cli.TotalSeconds, ($cli.TotalMilliseconds / $Count)
"ratio Get-SwarmNode/docker-cli: {0:N3} (target <= 0.1) {1}" -f $ratio, $(if ($ratio -le 0.1) { 'OK' } else { 'MISSED' })

# Import time in a new pwsh, measured inside it (process start excluded), best of 5.
$times = foreach ($i in 1..5) {
    [double](& dotnet pwsh -NoProfile -NonInteractive -Command "`$s=[Diagnostics.Stopwatch]::StartNew(); Import-Module '$ModulePath'; `$s.Elapsed.TotalSeconds")
}
$best = ($times | Measure-Object -Minimum).Minimum
"Import-Module: best {0:N3} s of 5 (runs: {1}) (target <= 0.5 s) {2}" -f $best, (($times | ForEach-Object { $_.ToString('N3') }) -join ', '), $(if ($best -le 0.5) { 'OK' } else { 'MISSED' })
