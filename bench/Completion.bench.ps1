<#
.SYNOPSIS
    Speed of node name completion (TabExpansion2 'Get-SwarmNode -Name swarmlab-', as a Tab press runs it) against
    `docker -H ssh://... node ls --format {{.Hostname}}`, same lab, same run: uncached (every call asks the manager)
    and cached (repeated Tab presses within the completers' cache time), plus the first Tab of a session.
    Target (issue #8): a completion returns within 2000 ms, and normally well under.
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json'),
    [int]$Count = 30
)
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$format = @('node', 'ls', '--format', '{{.Hostname}}')
Invoke-WithLabSsh {
    Invoke-DockerCli $format   # warm-up, and proof it works
    $script:cli = Measure-Command { for ($i = 0; $i -lt $Count; $i++) { Invoke-DockerCli $format } }
}

Import-Module $ModulePath -Force
Connect-SwarmCluster -Endpoint $DockerHostArg -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath | Out-Null
$line = 'Get-SwarmNode -Name swarmlab-'
function Complete { (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches }

# The first Tab of the session (completer and PowerShell's completion code not yet compiled).
$first = Measure-Command { $script:names = @(Complete).Count }
if ($names -lt 1) { throw "'$line' completed to nothing: is the lab up?" }

# The completers keep each list a few seconds (an internal setting): set it to zero for the uncached runs.
$cache = (Get-Command Get-SwarmNode).ImplementingType.Assembly.GetType('SwarmAdmin.Completion.CompletionCache')
$ttlField = $cache.GetField('Ttl', [Reflection.BindingFlags]'Static,NonPublic')
$ttl = $ttlField.GetValue($null)
function Measure-Each([int]$Runs) {
    $ms = foreach ($i in 1..$Runs) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $c = @(Complete).Count
        $sw.Stop()
        if ($c -ne $names) { throw "Completion $i gave $c names instead of $names" }
        $sw.Elapsed.TotalMilliseconds
    }
    $ms | Measure-Object -Average -Maximum -Sum
}
try {
    $ttlField.SetValue($null, [TimeSpan]::Zero)
    $uncached = Measure-Each $Count
}
finally { $ttlField.SetValue($null, $ttl) }
Complete | Out-Null   # fills the cache
$cached = Measure-Each $Count
Disconnect-SwarmCluster

$cliMs = $cli.TotalMilliseconds / $Count
"Node name completion x{0}: uncached {1:N1} ms/Tab (max {2:N1}), cached {3:N2} ms/Tab (max {4:N2}), first Tab of the session {5:N0} ms; docker -H ssh:// node ls x{0}: {6:N1} ms/call" -f `
    $Count, $uncached.Average, $uncached.Maximum, $cached.Average, $cached.Maximum, $first.TotalMilliseconds, $cliMs
"Completion uncached vs docker -H ssh:// node ls: ratio {0:N3}; cached: ratio {1:N4}" -f ($uncached.Average / $cliMs), ($cached.Average / $cliMs)
$worst = [Math]::Max([Math]::Max($uncached.Maximum, $cached.Maximum), $first.TotalMilliseconds)
"Slowest completion {0:N0} ms (target < 2000 ms) {1}" -f $worst, $(if ($worst -lt 2000) { 'OK' } else { 'MISSED' })
