<#
.SYNOPSIS
    Install-SwarmEngine on 3 fresh Debian 12 lab nodes in parallel (-ThrottleLimit 3) against 3 other fresh nodes
    one after another (-ThrottleLimit 1), same run, same warm APT cache. Target (issue #9): parallel / sequential <= 0.5.
.DESCRIPTION
    The nodes are "fresh VMs" (`lab.sh add-fresh-node`: systemd, sshd, apt, no Docker, made with --no-apt-proxy so
    only the proxy Install-SwarmEngine writes lets apt reach Debian) at swarmlab-f4..f9 / .94-.99; the Pester file
    EngineInstall.Tests.ps1 uses f1..f3 (.91-.93). Every node this script made is removed in the end, and no other
    node is touched.

    Two rounds, each with six new nodes:
    - "VMs" (compared with the target): each node is limited to -NodeCpus CPUs (docker run --cpus; default: 75% of
      this machine's cores shared by three). Real swarm nodes are separate VMs, each with its own vCPUs: an install on
      one does not slow the others down. Three lab containers on one small host do take CPU from each other unless
      each has a fixed share, and an APT install is CPU work (xz and dpkg: about 10 CPU-seconds per node, more than
      one core's worth while it runs), so without the limit the comparison measures this machine's core count.
    - "shared host" (information): no limit; on a two-core machine three installs side by side cannot take less than
      the CPU-seconds they need divided by two, which the output prints as the floor (CPU time read from each node's
      cgroup) together with the share of time the hypervisor took away (steal, /proc/stat).

    Fair comparison, in both rounds:
    - Warm cache: before anything is measured, one throw-away node (swarmlab-f9) gets the engine the same way, which
      fills the lab's apt-cacher-ng ($Lab.AptProxy) with the index files and every .deb both measured runs fetch. It is
      then removed, so both runs download from the same warm cache.
    - All six nodes of a round are made before either run of it, so no node start overlaps a measurement.
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
    # CPUs per node in the "VMs" round (the three parallel nodes together get 75% of the machine by default)
    [double]$NodeCpus = [math]::Round([Environment]::ProcessorCount * 0.75 / 3, 2),
    # skip the information round without a CPU limit
    [switch]$NoSharedHostRound,
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
function Invoke-Outer([string[]]$Arguments) {
    $env:DOCKER_HOST = $Lab.DockerHost
    try { & $DockerCli @Arguments } finally { Remove-Item Env:DOCKER_HOST }
}
function Add-Fresh($Node, [double]$Cpus = 0) {
    # a node of that name already there (an earlier run that did not clean up?) would not be fresh: refuse, touch nothing
    if (Invoke-Outer @('ps', '-a', '--filter', "name=^$($Node.Name)$", '--format', '{{.Names}}')) {
        throw "$($Node.Name) exists already: remove it first (bash tests/lab/lab.sh remove-node $($Node.Name) --state $LabState) if it is a leftover of this bench"
    }
    $created.Add($Node.Name)
    $a = @('add-fresh-node', $Node.Name, '--address', $Node.Address, '--no-apt-proxy', '--state', $LabState)
    if ($Cpus -gt 0) { $a += @('--cpus', $Cpus.ToString([Globalization.CultureInfo]::InvariantCulture)) }
    Invoke-LabSh $a
}
# fresh nodes of someone else (EngineInstall.Tests.ps1 uses f1..f3): their installs would share the cores with ours
function Get-OtherFresh { @(Invoke-Outer @('ps', '--filter', 'label=swarmadmin-lab.role=fresh', '--format', '{{.Names}}') | Where-Object { $_ -notin $created }) }
function Get-Load { if (Test-Path /proc/loadavg) { ((Get-Content /proc/loadavg -Raw) -split ' ')[0..2] -join ' ' } else { 'unknown' } }
function Remove-Fresh([string]$Name) {
    try { Invoke-LabSh @('remove-node', $Name, '--state', $LabState); [void]$created.Remove($Name) } catch { Write-Warning "$Name : $_" }
}
# CPU-seconds a node's container used so far (its cgroup under the outer engine's parent), $null when not readable
function Get-NodeCpuSeconds([string]$Name) {
    $id = Invoke-Outer @('inspect', '--format', '{{.Id}}', $Name)
    $v1 = "/sys/fs/cgroup/cpuacct/swarmadmin-lab-outer/$id/cpuacct.usage"
    if (Test-Path $v1) { return [double](Get-Content $v1 -Raw) / 1e9 }
    $v2 = "/sys/fs/cgroup/swarmadmin-lab-outer/$id/cpu.stat"
    if (Test-Path $v2) { $line = Get-Content $v2 | Where-Object { $_ -like 'usage_usec *' }; if ($line) { return [double]($line -split ' ')[1] / 1e6 } }
    $null
}
# /proc/stat's cpu line: (busy+idle ticks, steal ticks)
function Get-CpuTicks {
    if (-not (Test-Path /proc/stat)) { return $null }
    $f = ((Get-Content /proc/stat -TotalCount 1) -split '\s+')[1..8] | ForEach-Object { [double]$_ }
    [pscustomobject]@{ Total = ($f | Measure-Object -Sum).Sum; Steal = $f[7] }
}
function Get-StealShare($Before, $After) {
    if (-not $Before -or -not $After -or $After.Total -le $Before.Total) { return 'n/a' }
    '{0:P0}' -f (($After.Steal - $Before.Steal) / ($After.Total - $Before.Total))
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
$nameOf = @{}; foreach ($n in @($warm) + @($seqNodes) + @($parNodes)) { $nameOf[$n.Address] = $n.Name }

# One round: six new nodes (with the CPU limit, or none), sequential then parallel, the nodes removed again.
function Invoke-Round([string]$Title, [double]$Cpus) {
    try {
        foreach ($n in @($seqNodes) + @($parNodes)) { Add-Fresh $n $Cpus }
        Start-Sleep -Seconds 5   # the new nodes' boot (systemd units) settles before the clock starts
        $others = @(Get-OtherFresh)
        $loadBefore = Get-Load
        $cpu0 = @{}; foreach ($n in @($seqNodes) + @($parNodes)) { $cpu0[$n.Name] = Get-NodeCpuSeconds $n.Name }
        $t0 = Get-CpuTicks
        if ($SeparateInvocations) { $sequential = Measure-Command { $seqResults = foreach ($n in $seqNodes) { Install-On @($n) 1 } } }
        else { $sequential = Measure-Command { $seqResults = Install-On $seqNodes 1 } }
        $t1 = Get-CpuTicks
        $parallel = Measure-Command { $parResults = Install-On $parNodes 3 }
        $t2 = Get-CpuTicks
        $cpu = @{}; foreach ($n in @($seqNodes) + @($parNodes)) { $c = Get-NodeCpuSeconds $n.Name; $cpu[$n.Name] = if ($null -ne $c -and $null -ne $cpu0[$n.Name]) { $c - $cpu0[$n.Name] } else { $null } }
        $others = @($others) + @(Get-OtherFresh) | Sort-Object -Unique
        $loadAfter = Get-Load
    }
    finally {
        foreach ($n in @($seqNodes) + @($parNodes)) { if ($created.Contains($n.Name)) { Remove-Fresh $n.Name } }
    }
    ''
    "== $Title"
    "Host: {0} cores; load average {1} before the sequential run, {2} after the parallel run; hypervisor steal {3} during the sequential run, {4} during the parallel run" -f [Environment]::ProcessorCount, $loadBefore, $loadAfter, (Get-StealShare $t0 $t1), (Get-StealShare $t1 $t2)
    if ($others) { "Note: other fresh nodes were up during the measurement ($($others -join ', ')): if another test installed on them, it shared the CPU" }
    $seqMode = if ($SeparateInvocations) { '3 invocations one after another' } else { 'one invocation, -ThrottleLimit 1' }
    "Sequential ({0}): {1:N1} s" -f $seqMode, $sequential.TotalSeconds
    foreach ($r in $seqResults) { $n = $nameOf[$r.Address]; "  {0}: {1:N1} s in the invocation, {2} CPU-s [{3}]" -f $n, $r.Duration.TotalSeconds, $(if ($null -ne $cpu[$n]) { '{0:N1}' -f $cpu[$n] } else { 'n/a' }), (Format-Steps $r) }
    "Parallel (one invocation, -ThrottleLimit 3): {0:N1} s" -f $parallel.TotalSeconds
    foreach ($r in $parResults) { $n = $nameOf[$r.Address]; "  {0}: {1:N1} s, {2} CPU-s [{3}]" -f $n, $r.Duration.TotalSeconds, $(if ($null -ne $cpu[$n]) { '{0:N1}' -f $cpu[$n] } else { 'n/a' }), (Format-Steps $r) }
    $parCpu = @($parNodes | ForEach-Object { $cpu[$_.Name] })
    if ($parCpu -notcontains $null) {
        $sum = ($parCpu | Measure-Object -Sum).Sum
        $cap = if ($Cpus -gt 0) { [math]::Min($Cpus * 3, [Environment]::ProcessorCount) } else { [Environment]::ProcessorCount }
        "CPU: the three parallel nodes used {0:N1} CPU-s; with {1} CPUs for them the parallel run cannot take less than {2:N1} s" -f $sum, $cap, ($sum / $cap)
    }
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
    (Write-Ratio "Install-SwarmEngine on 3 fresh nodes ($Title), parallel vs one after another" $parallel $sequential 0.5) -replace ': SwarmAdmin ', ': parallel ' -replace ', docker CLI ', ', sequential '
}

try {
    # Warm the APT cache: one full install on a throw-away node, then that node goes (its name is reused fresh below).
    Add-Fresh $warm
    $script:Lab = Get-Content $LabState -Raw | ConvertFrom-Json   # AptProxy, and the new host keys in KnownHostsPath
    if (-not $Lab.AptProxy) { throw "the lab state has no AptProxy (lab.sh apt-proxy status)" }
    $warmRun = Measure-Command { $warmResult = Install-On @($warm) 1 }
    Remove-Fresh $warm.Name
    "Warm-up (fills the APT cache; not compared): {0} {1:N1} s [{2}], engine {3}" -f $nameOf[$warmResult[0].Address], $warmRun.TotalSeconds, (Format-Steps $warmResult[0]), $warmResult[0].EngineVersion

    if (-not $NoSharedHostRound) { Invoke-Round 'shared host: no CPU limit per node (information)' 0 }
    # the last line is the one compared with the target
    Invoke-Round ("VMs: each node limited to {0} CPUs" -f $NodeCpus.ToString([Globalization.CultureInfo]::InvariantCulture)) $NodeCpus
}
finally {
    foreach ($name in @($created)) { Remove-Fresh $name }
}
