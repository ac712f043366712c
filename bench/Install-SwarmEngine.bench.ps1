<#
.SYNOPSIS
    Install-SwarmEngine on 3 fresh Debian 12 lab nodes in parallel (-ThrottleLimit 3) against 3 other fresh nodes
    one after another (-ThrottleLimit 1), same run, same warm APT cache. Target (issue #9): parallel / sequential <= 0.5.
.DESCRIPTION
    The nodes are "fresh VMs" (`lab.sh add-fresh-node`: systemd, sshd, apt, no Docker, made with --no-apt-proxy so
    only the proxy Install-SwarmEngine writes lets apt reach Debian) at swarmlab-f4..f9 / .94-.99; the Pester file
    EngineInstall.Tests.ps1 uses f1..f3 (.91-.93), so both can run at the same time. Every node this script made is
    removed in the end, and no other node is touched.

    Fair comparison:
    - Warm cache: before anything is measured, one throw-away node (swarmlab-f9) gets the engine the same way, which
      fills the lab's apt-cacher-ng ($Lab.AptProxy) with the index files and every .deb both measured runs fetch. It is
      then removed and made again fresh, so both runs download from the same warm cache (what remains is the proxy
      checking the index files' freshness upstream, the same for both).
    - All six measured nodes are made before either run, so no node start overlaps a measurement.
    - Sequential is the same cmdlet with the three nodes piped and -ThrottleLimit 1 (the cmdlet's own parallelism is
      what is compared: same probe, same phases, same SSH setup). -SeparateInvocations runs three invocations one after
      another instead, as a user without the parallel option would (it also pays the invocation's own overhead 3 times).
    - Parallel: three OTHER fresh nodes (a node with the engine would be a no-op), -ThrottleLimit 3.
    Per node it prints where the time goes (the result's Steps and their Duration: AptUpdate, Install...), and per step
    the sequential sum against the parallel slowest node, which shows what does not shrink when run side by side.
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json'),
    [switch]$SeparateInvocations,
    [int]$TimeoutSec = 900
)
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
$labScript = (Resolve-Path (Join-Path $PSScriptRoot '../tests/lab/lab.sh')).Path
$prefix = ($M1.Address -split '\.')[0..2] -join '.'
function New-Fresh([int]$I) { [pscustomobject]@{ Name = "swarmlab-f$I"; Address = "$prefix.9$I"; Target = "root@$prefix.9$I" } }
$warm = New-Fresh 9
$seqNodes = 4..6 | ForEach-Object { New-Fresh $_ }
$parNodes = 7..9 | ForEach-Object { New-Fresh $_ }
$created = [System.Collections.Generic.List[string]]::new()

function Invoke-LabSh([string[]]$Arguments) {
    $out = & bash $labScript @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "lab.sh $($Arguments -join ' ') failed: $($out -join "`n")" }
}
function Add-Fresh($Node) {
    # a node of that name already there (an earlier run that did not clean up?) would not be fresh: refuse, touch nothing
    $env:DOCKER_HOST = $Lab.DockerHost
    try { $exists = & $DockerCli ps -a --filter "name=^$($Node.Name)$" --format '{{.Names}}' } finally { Remove-Item Env:DOCKER_HOST }
    if ($exists) { throw "$($Node.Name) exists already: remove it first (bash tests/lab/lab.sh remove-node $($Node.Name) --state $LabState) if it is a leftover of this bench" }
    $created.Add($Node.Name)
    Invoke-LabSh @('add-fresh-node', $Node.Name, '--address', $Node.Address, '--no-apt-proxy', '--state', $LabState)
}
# fresh nodes of someone else (EngineInstall.Tests.ps1 uses f1..f3): their installs would share the cores with ours
function Get-OtherFresh {
    $env:DOCKER_HOST = $Lab.DockerHost
    try { @(& $DockerCli ps --filter 'label=swarmadmin-lab.role=fresh' --format '{{.Names}}' | Where-Object { $_ -notin $created }) } finally { Remove-Item Env:DOCKER_HOST }
}
# the nodes share this machine's cores: say how many, and how busy it was (other sessions' builds count too)
function Get-Load { if (Test-Path /proc/loadavg) { ((Get-Content /proc/loadavg -Raw) -split ' ')[0..2] -join ' ' } else { 'unknown' } }
function Remove-Fresh([string]$Name) {
    try { Invoke-LabSh @('remove-node', $Name, '--state', $LabState); [void]$created.Remove($Name) } catch { Write-Warning "$Name : $_" }
}

Import-Module (Resolve-Path -LiteralPath $ModulePath).Path -Force
function Install-On($Nodes, [int]$Throttle) {
    $installArgs = @{
        AptProxy = $script:Lab.AptProxy; DaemonConfig = @{ 'cgroup-parent' = '/swarmlab-bench' }
        KeyFile = $script:Lab.KeyPath; KnownHostsPath = $script:Lab.KnownHostsPath; TimeoutSec = $TimeoutSec; Confirm = $false
    }
    $r = @($Nodes.Target | Install-SwarmEngine @installArgs -ThrottleLimit $Throttle)
    if ($r.Count -ne @($Nodes).Count) { throw "Install-SwarmEngine gave $($r.Count) results for $(@($Nodes).Count) nodes" }
    foreach ($x in $r) { if (-not $x.Changed -or $x.Actions -notcontains 'Install' -or -not $x.EngineVersion) { throw "$($x.Node) was not installed: actions $($x.Actions -join ',')" } }
    $r
}

$stepNames = 'AptProxy', 'AptUpdate', 'Resolve', 'DaemonConfig', 'Install', 'Hold', 'Service', 'Verify'
function Format-Steps($Result) {
    ($Result.Steps | Where-Object Duration -gt ([TimeSpan]::Zero) | ForEach-Object { '{0} {1:N1}' -f $_.Name, $_.Duration.TotalSeconds }) -join ', '
}
function Get-StepSeconds($Results, [string]$Step) {
    foreach ($r in $Results) { $t = 0.0; foreach ($x in $r.Steps) { if ($x.Name -eq $Step) { $t += $x.Duration.TotalSeconds } }; $t }
}

try {
    # Warm the APT cache: one full install on a throw-away node, then that node goes (its name is reused fresh below).
    Add-Fresh $warm
    $script:Lab = Get-Content $LabState -Raw | ConvertFrom-Json   # AptProxy, and the new host keys in KnownHostsPath
    if (-not $Lab.AptProxy) { throw "the lab state has no AptProxy (lab.sh apt-proxy status)" }
    $warmRun = Measure-Command { $warmResult = Install-On @($warm) 1 }
    Remove-Fresh $warm.Name

    foreach ($n in @($seqNodes) + @($parNodes)) { Add-Fresh $n }
    Start-Sleep -Seconds 5   # the new nodes' boot (systemd units) settles before the clock starts

    $others = @(Get-OtherFresh)
    $loadBefore = Get-Load
    if ($SeparateInvocations) {
        $sequential = Measure-Command { $seqResults = foreach ($n in $seqNodes) { Install-On @($n) 1 } }
    }
    else {
        $sequential = Measure-Command { $seqResults = Install-On $seqNodes 1 }
    }
    $parallel = Measure-Command { $parResults = Install-On $parNodes 3 }
    $others = @($others) + @(Get-OtherFresh) | Sort-Object -Unique
    $loadAfter = Get-Load
}
finally {
    foreach ($name in @($created)) { Remove-Fresh $name }
}

$nameOf = @{}; foreach ($n in @($warm) + @($seqNodes) + @($parNodes)) { $nameOf[$n.Address] = $n.Name }
"Warm-up (fills the APT cache; not compared): {0} {1:N1} s [{2}], engine {3}" -f $nameOf[$warmResult[0].Address], $warmRun.TotalSeconds, (Format-Steps $warmResult[0]), $warmResult[0].EngineVersion
"Host: {0} cores; load average {1} before the sequential run, {2} after the parallel run" -f [Environment]::ProcessorCount, $loadBefore, $loadAfter
if ($others) { "Note: other fresh nodes were up during the measurement ($($others -join ', ')): if another test installed on them, it shared the CPU" }
$seqMode = if ($SeparateInvocations) { '3 invocations one after another' } else { 'one invocation, -ThrottleLimit 1' }
"Sequential ({0}): {1:N1} s" -f $seqMode, $sequential.TotalSeconds
foreach ($r in $seqResults) { "  {0}: {1:N1} s in the invocation [{2}]" -f $nameOf[$r.Address], $r.Duration.TotalSeconds, (Format-Steps $r) }
"Parallel (one invocation, -ThrottleLimit 3): {0:N1} s" -f $parallel.TotalSeconds
foreach ($r in $parResults) { "  {0}: {1:N1} s [{2}]" -f $nameOf[$r.Address], $r.Duration.TotalSeconds, (Format-Steps $r) }
"Per step, sequential sum vs parallel slowest node (a step that runs side by side ideally costs its slowest node, not the sum):"
foreach ($s in $stepNames) {
    $seqSum = (Get-StepSeconds $seqResults $s | Measure-Object -Sum).Sum
    $par = Get-StepSeconds $parResults $s
    $parMax = ($par | Measure-Object -Maximum).Maximum
    $parAvg = ($par | Measure-Object -Average).Average
    if ($seqSum -lt 0.05 -and $parMax -lt 0.05) { continue }
    "  {0,-12} sequential sum {1,6:N1} s (per node {2:N1} s); parallel slowest {3,6:N1} s (per node {4:N1} s, {5:N1}x slower side by side)" -f `
        $s, $seqSum, ($seqSum / 3), $parMax, $parAvg, $(if ($seqSum -gt 0) { $parAvg / ($seqSum / 3) } else { 0 })
}
# Write-Ratio's labels say SwarmAdmin / docker CLI: here the two sides are parallel / sequential
(Write-Ratio 'Install-SwarmEngine on 3 fresh nodes, parallel vs one after another' $parallel $sequential 0.5) -replace ': SwarmAdmin ', ': parallel ' -replace ', docker CLI ', ', sequential '
