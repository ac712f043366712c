<#
.SYNOPSIS
    Scheduled health check of a swarm: the managers' quorum (Test-SwarmQuorum) and the convergence of the stacks'
    services, written as health.json, health.html and a Prometheus text file for the node exporter's textfile
    collector. Exit code 1 when the swarm is Critical, 2 when an output file could not be written, 0 otherwise.
.DESCRIPTION
    Meant for a systemd timer, cron or a Windows Scheduled Task. The check only reads: it changes nothing in the swarm.

    1. Connects to -Endpoint (ssh:// URIs of the managers, tried in order) with -KeyFile and -KnownHostsPath. Without
       -Endpoint it uses the session's connection from Connect-SwarmCluster (when the script is run in a session).
    2. Test-SwarmQuorum: Healthy, Degraded or Critical, with its findings (unreachable managers, quorum lost, managers
       sharing a failure domain, nodes down, ...). The failure domain label is -FailureDomainLabel (proxmox.host,
       the label the cluster file gives every node).
    3. When the swarm has a leader: every service of the stacks (-Stack, default: all stacks), running against desired
       tasks. A service converges when its running tasks reach the desired count and no update is in progress or
       paused; jobs (replicated-job, global-job) are listed but not judged. Not converged services and missing stacks
       are findings of severity Warning.
    4. The overall status is the worst of: the quorum status, Degraded when a service has not converged or a stack is
       missing, Critical when the swarm cannot be reached at all.
    5. Writes, in this order, each atomically (a temporary file in the same folder, then a rename) and each on its own
       (a file that cannot be written is reported as a warning and does not keep the others from being written):
         <PrometheusPath>                metrics in the Prometheus text exposition format (the textfile collector
                                         reads every *.prom file of its folder; the rename means it never reads a
                                         half-written one). When the swarm cannot be reached, the file still says
                                         swarmadmin_healthcheck_success 0, so an alert can fire on it.
         <OutputDirectory>/health.json   the report (the same object -PassThru returns)
         <OutputDirectory>/health.html   a page with the status, the findings, the nodes and the services
       The connection the script opened (-Endpoint) is closed whatever happens.
    6. Exit codes:
         0  Healthy or Degraded (Degraded is reported in the files), every output written
         1  Critical: quorum lost or at risk as Test-SwarmQuorum judges it, or the swarm could not be reached. Critical
            wins over 2: the outputs that could be written say Critical, and the warnings name the others.
         2  not Critical, but an output file could not be written (its previous version, if any, is left as it was, so
            watch the .prom file's swarmadmin_healthcheck_last_run_timestamp_seconds as well)

    Metrics (gauges): swarmadmin_healthcheck_success, swarmadmin_healthcheck_last_run_timestamp_seconds,
    swarmadmin_healthcheck_duration_seconds, swarmadmin_health_status (0 Healthy, 1 Degraded, 2 Critical),
    swarmadmin_quorum_status (the same scale), swarmadmin_quorum_has_quorum, swarmadmin_managers_total,
    swarmadmin_managers_reachable, swarmadmin_quorum_fault_tolerance, swarmadmin_quorum_remaining_tolerance,
    swarmadmin_manager_reachable{node,node_id} (node_id tells apart two managers with one hostname, e.g. a replaced
    manager and the old entry it left; empty when the swarm has no leader to list the nodes, and then the managers of
    one hostname share one series that is 1 only when all of them are reachable), swarmadmin_quorum_findings{severity},
    swarmadmin_nodes{role,status,availability} (counts),
    swarmadmin_service_replicas_running{stack,service}, swarmadmin_service_replicas_desired{stack,service},
    swarmadmin_service_converged{stack,service}.
.PARAMETER Endpoint
    ssh:// URIs of the managers (ssh://root@192.168.4.30). Default: the session's connection.
.PARAMETER KeyFile
    SSH private key file(s) for -Endpoint.
.PARAMETER KnownHostsPath
    known_hosts file with the managers' host keys (an unknown or changed key fails the check: it never trusts on
    first use).
.PARAMETER OutputDirectory
    Folder for health.json and health.html; created when missing. Default: the current folder.
.PARAMETER Stack
    Stacks whose services are checked. Default: every stack of the swarm.
.PARAMETER PrometheusPath
    The .prom file to write, e.g. /var/lib/node_exporter/textfile_collector/swarm.prom. Default: none is written.
.PARAMETER TimeoutSec
    Seconds each connection attempt, engine call and the quorum check may take.
.PARAMETER FailureDomainLabel
    The node label Test-SwarmQuorum reads each manager's failure domain from.
.PARAMETER ModulePath
    Import SwarmAdmin from this path instead of from the module path.
.PARAMETER PassThru
    Also write the report object to the pipeline.
.EXAMPLE
    ./examples/health-check.ps1 -Endpoint ssh://root@192.168.4.30, ssh://root@192.168.4.31, ssh://root@192.168.4.32 `
        -KeyFile ~/.ssh/id_ed25519 -KnownHostsPath ~/.ssh/known_hosts -OutputDirectory /var/www/swarm-health `
        -PrometheusPath /var/lib/node_exporter/textfile_collector/swarm.prom

    One check of the reference cluster's three managers. $LASTEXITCODE is 1 when the swarm is Critical, 2 when a file
    could not be written.
.EXAMPLE
    # cron (every 5 minutes):
    */5 * * * * pwsh -NoProfile -NonInteractive -File /opt/swarmadmin/examples/health-check.ps1 -Endpoint ssh://root@192.168.4.30,ssh://root@192.168.4.31 -KeyFile /root/.ssh/id_ed25519 -KnownHostsPath /root/.ssh/known_hosts -OutputDirectory /var/www/swarm-health -PrometheusPath /var/lib/node_exporter/textfile_collector/swarm.prom >>/var/log/swarm-health.log 2>&1

    # systemd: /etc/systemd/system/swarm-health.service
    #   [Service]
    #   Type=oneshot
    #   ExecStart=/usr/bin/pwsh -NoProfile -NonInteractive -File /opt/swarmadmin/examples/health-check.ps1 -Endpoint ssh://root@192.168.4.30,ssh://root@192.168.4.31 -KeyFile /root/.ssh/id_ed25519 -KnownHostsPath /root/.ssh/known_hosts -OutputDirectory /var/www/swarm-health -PrometheusPath /var/lib/node_exporter/textfile_collector/swarm.prom
    # /etc/systemd/system/swarm-health.timer
    #   [Timer]
    #   OnCalendar=*:0/5
    #   Persistent=true
    #   [Install]
    #   WantedBy=timers.target
    # systemctl enable --now swarm-health.timer ; a failed run (exit 1 Critical, 2 outputs not written) shows in systemctl --failed.
.EXAMPLE
    # Windows Scheduled Task, every 5 minutes:
    schtasks /Create /TN SwarmHealth /SC MINUTE /MO 5 /RU SYSTEM /TR "pwsh.exe -NoProfile -NonInteractive -File C:\swarmadmin\examples\health-check.ps1 -Endpoint ssh://root@192.168.4.30,ssh://root@192.168.4.31 -KeyFile C:\swarmadmin\id_ed25519 -KnownHostsPath C:\swarmadmin\known_hosts -OutputDirectory C:\inetpub\wwwroot\swarm-health"

    The task's "Last Run Result" is 0x1 when the swarm was Critical, 0x2 when an output could not be written.
.EXAMPLE
    Connect-SwarmCluster -Endpoint ssh://root@192.168.4.30 | Out-Null
    $report = ./examples/health-check.ps1 -Stack portainer, web -OutputDirectory ./health -PassThru
    $report.Services | Where-Object { -not $_.Converged }

    Uses the session's connection, checks two stacks and lists the services that do not run all their tasks.
#>
[CmdletBinding()]
param(
    [string[]]$Endpoint,
    [string[]]$KeyFile,
    [string]$KnownHostsPath,
    [string]$OutputDirectory = (Get-Location).ProviderPath,
    [string[]]$Stack,
    [string]$PrometheusPath,
    [ValidateRange(2, 600)][int]$TimeoutSec = 15,
    [string]$FailureDomainLabel = 'proxmox.host',
    [string]$ModulePath,
    [switch]$PassThru
)
$ErrorActionPreference = 'Stop'
# pwsh -File passes "a,b" as one string: split lists here so that cron and systemd lines can use commas
$Stack = @($Stack | ForEach-Object { "$_" -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
$started = [DateTimeOffset]::UtcNow
$watch = [Diagnostics.Stopwatch]::StartNew()
$inv = [Globalization.CultureInfo]::InvariantCulture
$statusRank = @{ Healthy = 0; Degraded = 1; Critical = 2 }

function Write-FileAtomically([string]$Path, [string]$Text) {
    # temp file in the same folder (same file system), then one rename: readers see the old or the new file, never half
    $full = [IO.Path]::GetFullPath($Path)
    $dir = [IO.Path]::GetDirectoryName($full)
    if (-not [IO.Directory]::Exists($dir)) { [void][IO.Directory]::CreateDirectory($dir) }
    $tmp = Join-Path $dir (".{0}.{1}.tmp" -f [IO.Path]::GetFileName($full), [Guid]::NewGuid().ToString('N'))
    try {
        [IO.File]::WriteAllText($tmp, $Text, [Text.UTF8Encoding]::new($false))
        if ($PSVersionTable.PSEdition -eq 'Core') { [IO.File]::Move($tmp, $full, $true) }
        elseif ([IO.File]::Exists($full)) { [IO.File]::Replace($tmp, $full, $null) }
        else { [IO.File]::Move($tmp, $full) }
    }
    finally { if ([IO.File]::Exists($tmp)) { [IO.File]::Delete($tmp) } }
}

function Get-WorstStatus([string[]]$Status) {
    $worst = 'Healthy'
    foreach ($s in $Status) { if ($s -and $statusRank[$s] -gt $statusRank[$worst]) { $worst = $s } }
    $worst
}

function New-Finding([string]$Source, [string]$Severity, [string]$Id, [string]$Target, [string]$Message, [string]$Remedy) {
    [pscustomobject][ordered]@{ Source = $Source; Severity = $Severity; Id = $Id; Target = $Target; Message = $Message; Remedy = $Remedy }
}

# Renders a report (the object health.json holds) in the Prometheus text exposition format, "\n" after every line.
# Self-contained: the tests take this function out of the script and feed it crafted reports.
# Every (name, labels) pair appears once (node_exporter rejects a whole file with a duplicate series):
# - swarmadmin_manager_reachable{node,node_id}: a replaced manager that kept its hostname is a second node with the same
#   hostname and another id. Without ids (no leader, so the facts come from node probes) the managers of one hostname
#   share one series, 1 only when all of them are reachable.
# - any other repeat is dropped with a warning (first one wins) rather than break the file.
function ConvertTo-HealthPrometheusText {
    param([Parameter(Mandatory)]$Report)
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $rank = @{ Healthy = 0; Degraded = 1; Critical = 2 }
    $sb = [Text.StringBuilder]::new()
    $escape = { param($v) ([string]$v).Replace('\', '\\').Replace('"', '\"').Replace("`n", '\n') }
    $families = [Collections.Generic.HashSet[string]]::new()
    function Add-Metric([string]$Name, [string]$Help, [object[]]$Samples) {
        # Samples: @( @{ labels = [ordered]@{...}; value = n } ) or bare numbers
        if (-not $families.Add($Name)) { throw "Metric family $Name rendered twice." }
        [void]$sb.Append("# HELP $Name $($Help.Replace('\', '\\').Replace("`n", '\n'))`n# TYPE $Name gauge`n")
        $seen = [Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)
        foreach ($s in $Samples) {
            if ($s -is [System.Collections.IDictionary]) {
                $labels = ($s.labels.GetEnumerator() | ForEach-Object { "$($_.Key)=`"$(& $escape $_.Value)`"" }) -join ','
                $value = $s.value
            }
            else { $labels = ''; $value = $s }
            if (-not $seen.Add($labels)) { Write-Warning "Metric $Name{$labels} appears twice; the second sample is left out."; continue }
            if ($value -is [bool]) { $value = [int]$value }
            $text = ([double]$value).ToString('R', $inv)
            [void]$sb.Append($(if ($labels) { "$Name{$labels} $text`n" } else { "$Name $text`n" }))
        }
    }
    $checkedAt = [DateTimeOffset]::Parse("$($Report.CheckedAt)", $inv, [Globalization.DateTimeStyles]::AssumeUniversal)
    Add-Metric 'swarmadmin_healthcheck_success' 'Whether the health check reached the swarm (1) or not (0).' @([int][bool]$Report.Reached)
    Add-Metric 'swarmadmin_healthcheck_last_run_timestamp_seconds' 'Unix time the health check ran.' @($checkedAt.ToUnixTimeMilliseconds() / 1000.0)
    Add-Metric 'swarmadmin_healthcheck_duration_seconds' 'Seconds the health check took.' @([double]$Report.DurationSeconds)
    Add-Metric 'swarmadmin_health_status' 'Overall status: 0 Healthy, 1 Degraded, 2 Critical.' @($rank["$($Report.Status)"])
    $q = $Report.Quorum
    if ($q) {
        Add-Metric 'swarmadmin_quorum_status' 'Test-SwarmQuorum status: 0 Healthy, 1 Degraded, 2 Critical.' @($rank["$($q.Status)"])
        Add-Metric 'swarmadmin_quorum_has_quorum' 'Whether a majority of the managers is reachable and there is a leader.' @([int][bool]$q.HasQuorum)
        Add-Metric 'swarmadmin_managers_total' 'Managers of the swarm.' @($q.Managers)
        Add-Metric 'swarmadmin_managers_reachable' 'Managers that are reachable.' @($q.Reachable)
        Add-Metric 'swarmadmin_quorum_fault_tolerance' 'Managers the swarm can lose by design: floor((managers-1)/2).' @($q.FaultTolerance)
        Add-Metric 'swarmadmin_quorum_remaining_tolerance' 'Managers the swarm can still lose now (negative: quorum lost).' @($q.RemainingTolerance)
        $managers = @($q.ManagerNodes | Where-Object { $_ } | Group-Object { "$($_.Hostname)`n$($_.Id)" } | Sort-Object Name | ForEach-Object {
                $m = $_.Group[0]
                @{ labels = [ordered]@{ node = "$($m.Hostname)"; node_id = "$($m.Id)" }; value = [int](-not ($_.Group | Where-Object { -not $_.Reachable })) }
            })
        if ($managers) { Add-Metric 'swarmadmin_manager_reachable' 'Whether each manager is reachable (1) or not (0), by hostname and node id.' $managers }
        $quorumFindings = @($Report.Findings | Where-Object { $_.Source -eq 'quorum' })
        Add-Metric 'swarmadmin_quorum_findings' 'Test-SwarmQuorum findings by severity.' @('Info', 'Warning', 'Error', 'Critical' | ForEach-Object { $sev = $_; @{ labels = [ordered]@{ severity = $sev }; value = @($quorumFindings | Where-Object { "$($_.Severity)" -eq $sev }).Count } })
    }
    $nodes = @($Report.Nodes | Where-Object { $_ })
    if ($nodes) {
        # an aggregate: one series per (role, status, availability)
        $groups = $nodes | Group-Object { "$($_.Role)".ToLowerInvariant() }, { "$($_.State)".ToLowerInvariant() }, { "$($_.Availability)".ToLowerInvariant() }
        Add-Metric 'swarmadmin_nodes' 'Nodes by role, status and availability.' @($groups | ForEach-Object {
                $r = $_.Group[0]
                @{ labels = [ordered]@{ role = "$($r.Role)".ToLowerInvariant(); status = "$($r.State)".ToLowerInvariant(); availability = "$($r.Availability)".ToLowerInvariant() }; value = $_.Count }
            })
    }
    $judged = @($Report.Services | Where-Object { $_ })
    if ($judged) {
        Add-Metric 'swarmadmin_service_replicas_running' 'Running tasks of each service.' @($judged | ForEach-Object { @{ labels = [ordered]@{ stack = $_.Stack; service = $_.Name }; value = $_.Running } })
        Add-Metric 'swarmadmin_service_replicas_desired' 'Desired tasks of each service.' @($judged | ForEach-Object { @{ labels = [ordered]@{ stack = $_.Stack; service = $_.Name }; value = $_.Desired } })
        $conv = @($judged | Where-Object { $null -ne $_.Converged })
        if ($conv) { Add-Metric 'swarmadmin_service_converged' 'Whether each service runs all its desired tasks with no update in progress.' @($conv | ForEach-Object { @{ labels = [ordered]@{ stack = $_.Stack; service = $_.Name }; value = [int]$_.Converged } }) }
    }
    $sb.ToString()
}

# ---------------------------------------------------------------- the check
$findings = [Collections.Generic.List[object]]::new()
$quorum = $null
$nodes = @()
$services = @()
$stacks = @()
$reachedSwarm = $false
$connectionError = $null
$ctx = $null
$ctxArgs = @{}
$writeFailures = [Collections.Generic.List[string]]::new()
$stage = 'module'
try {   # the finally at the end disconnects, whatever fails in between
    try {
        if ($ModulePath) { Import-Module (Resolve-Path -LiteralPath $ModulePath).ProviderPath -Force } elseif (-not (Get-Module SwarmAdmin)) { Import-Module SwarmAdmin }
        $stage = 'swarm'
        if ($Endpoint) {
            $connect = @{ Endpoint = $Endpoint; TimeoutSec = $TimeoutSec; NoDefault = $true }
            if ($KeyFile) { $connect.KeyFile = $KeyFile }
            if ($KnownHostsPath) { $connect.KnownHostsPath = $KnownHostsPath }
            $ctx = Connect-SwarmCluster @connect
            $ctxArgs = @{ Context = $ctx }
        }
        $quorum = Test-SwarmQuorum @ctxArgs -TimeoutSec $TimeoutSec -FailureDomainLabel $FailureDomainLabel
        # reached: at least one manager answered (with every manager gone, the report is all-unreachable and Critical)
        $reachedSwarm = $quorum.Reachable -gt 0
    }
    catch {
        $connectionError = $_.Exception.Message
        if ($stage -eq 'module') {
            $findings.Add((New-Finding 'check' 'Critical' 'MODULE-NOT-LOADED' 'SwarmAdmin' "The SwarmAdmin module could not be loaded: $connectionError" 'Install the module (Install-PSResource SwarmAdmin) or pass -ModulePath.'))
        }
        else {
            $findings.Add((New-Finding 'connection' 'Critical' 'SWARM-UNREACHABLE' $(if ($Endpoint) { $Endpoint -join ', ' } else { 'session connection' }) "The swarm could not be checked: $connectionError" 'Check that the managers run and answer over SSH (key, known_hosts, firewall), then run the check again.'))
        }
    }

    if ($quorum) {
        foreach ($f in $quorum.Findings) { $findings.Add((New-Finding 'quorum' "$($f.Severity)" $f.Id $f.Target $f.Message $f.Remedy)) }
        if ($quorum.HasQuorum) {
            try {
                $nodes = @(Get-SwarmNode @ctxArgs | Sort-Object Hostname)
                $stacks = @(Get-SwarmStack @ctxArgs)
                $live = @($stacks | ForEach-Object Name)
                $names = if ($Stack) { $Stack } else { $live }
                foreach ($missing in @($names | Where-Object { $_ -notin $live })) {
                    $findings.Add((New-Finding 'stacks' 'Warning' 'STACK-MISSING' $missing "Stack $missing is not deployed (no service carries com.docker.stack.namespace=$missing)." "Deploy it (Deploy-SwarmStack -Name $missing -Path <compose file>) or drop it from -Stack."))
                }
                $present = @($names | Where-Object { $_ -in $live })
                if ($present) { $services = @(Get-SwarmService @ctxArgs -Stack $present | Sort-Object Stack, Name) }
            }
            catch {
                $findings.Add((New-Finding 'stacks' 'Error' 'STACKS-UNKNOWN' 'swarm' "The services could not be listed: $($_.Exception.Message)" 'Run the check again; if it persists, look at the managers (Test-SwarmQuorum -Verbose).'))
            }
        }
        else {
            $findings.Add((New-Finding 'stacks' 'Warning' 'STACKS-NOT-CHECKED' 'swarm' 'The swarm has no quorum, so the services were not checked (only a leader can list them).' 'Restore the quorum first (see the quorum findings).'))
        }
    }

    $serviceRows = foreach ($s in $services) {
        $isJob = $s.Mode -like '*job'
        $busy = $s.UpdateState -in 'updating', 'paused', 'rollback_started', 'rollback_paused'
        $converged = if ($isJob) { $null } else { ($s.Running -ge $s.Desired) -and -not $busy }
        [pscustomobject][ordered]@{
            Stack = $s.Stack; Name = $s.Name; Mode = $s.Mode; Running = [long]$s.Running; Desired = [long]$s.Desired
            UpdateState = $s.UpdateState; Image = $s.Image; Converged = $converged
        }
        if ($converged -eq $false) {
            $why = if ($busy) { "its update is $($s.UpdateState)" } else { "$($s.Running) of $($s.Desired) tasks run" }
            $findings.Add((New-Finding 'stacks' 'Warning' 'SERVICE-NOT-CONVERGED' $s.Name "Service $($s.Name) (stack $($s.Stack)) has not converged: $why." "Get-SwarmTask -Service $($s.Name) shows why tasks do not run (placement, image, resources)."))
        }
    }
    $serviceRows = @($serviceRows)
    $stackRows = @(foreach ($g in $serviceRows | Group-Object Stack) {
            [pscustomobject][ordered]@{ Name = $g.Name; Services = $g.Count; Converged = -not ($g.Group | Where-Object { $_.Converged -eq $false }) }
        })

    $stackStatus = if ($findings | Where-Object { $_.Source -eq 'stacks' -and $_.Severity -in 'Warning', 'Error' }) { 'Degraded' } else { 'Healthy' }
    $overall = if (-not $quorum) { 'Critical' } else { Get-WorstStatus @("$($quorum.Status)", $stackStatus) }
    $duration = $watch.Elapsed.TotalSeconds
    # each manager once per node: with the node list (there is a leader) by node id; else the quorum's hostnames, which
    # repeat when a replaced manager kept its hostname (the unreachable ones of a hostname first)
    $managerNodes = @(if ($nodes) {
            $nodes | Where-Object { "$($_.Role)" -eq 'Manager' } | ForEach-Object {
                [pscustomobject][ordered]@{ Hostname = $_.Hostname; Id = $_.Id; Reachable = "$($_.ManagerStatus)" -in 'Leader', 'Reachable' }
            }
        }
        elseif ($quorum) {
            $down = [Collections.Generic.List[string]]::new([string[]]@($quorum.UnreachableManagers))
            foreach ($name in $quorum.ManagerNames) {
                $isDown = $down.Remove($name)
                [pscustomobject][ordered]@{ Hostname = $name; Id = $null; Reachable = -not $isDown }
            }
        })

    $report = [pscustomobject][ordered]@{
        PSTypeName      = 'SwarmAdmin.Example.HealthReport'
        Status          = $overall
        CheckedAt       = $started.UtcDateTime.ToString('o', $inv)
        DurationSeconds = [Math]::Round($duration, 3)
        Endpoint        = if ($ctx) { "$($ctx.ActiveEndpoint)" } elseif ($Endpoint) { $Endpoint -join ', ' } else { '(session connection)' }
        Reached         = $reachedSwarm
        Error           = $connectionError
        Quorum          = if ($quorum) {
            [pscustomobject][ordered]@{
                Status = "$($quorum.Status)"; HasQuorum = $quorum.HasQuorum; Managers = $quorum.Managers; Reachable = $quorum.Reachable
                Unreachable = $quorum.Unreachable; Leader = $quorum.Leader; QuorumSize = $quorum.QuorumSize
                FaultTolerance = $quorum.FaultTolerance; RemainingTolerance = $quorum.RemainingTolerance
                ManagerNames = @($quorum.ManagerNames); UnreachableManagers = @($quorum.UnreachableManagers)
                ManagerNodes = $managerNodes
                FailureDomainLabel = $quorum.FailureDomainLabel; FailureDomains = $quorum.FailureDomains
                ClusterId = $quorum.ClusterId; Source = $quorum.Source
            }
        } else { $null }
        Findings        = @($findings)
        Nodes           = @($nodes | ForEach-Object {
                [pscustomobject][ordered]@{
                    Hostname = $_.Hostname; Id = $_.Id; Role = "$($_.Role)"; State = $_.State; Availability = "$($_.Availability)"
                    ManagerStatus = $_.ManagerStatus; Address = $_.Address; EngineVersion = $_.EngineVersion
                    Labels = ($_.Labels.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join ', '
                }
            })
        Stacks          = $stackRows
        Services        = $serviceRows
    }

    # ---------------------------------------------------------------- outputs
    # The .prom first (monitoring reads it), then JSON and HTML; each write on its own, so one failure does not keep the
    # others from being written. A failed write is reported and makes the exit code 2 (see .DESCRIPTION).
    function Save-OutputFile([string]$What, [string]$Path, [scriptblock]$Render) {
        try { Write-FileAtomically $Path (& $Render) }
        catch {
            Write-Warning "Could not write the $What ($Path): $($_.Exception.Message)"
            $writeFailures.Add($Path)
        }
    }
    if ($PrometheusPath) { Save-OutputFile 'Prometheus text file' $PrometheusPath { ConvertTo-HealthPrometheusText $report } }
    if ($OutputDirectory) {
        Save-OutputFile 'JSON report' (Join-Path $OutputDirectory 'health.json') { $report | ConvertTo-Json -Depth 8 }
        Save-OutputFile 'HTML page' (Join-Path $OutputDirectory 'health.html') {
            $enc = { param($s) [Net.WebUtility]::HtmlEncode([string]$s) }
            $colour = @{ Healthy = '#2e7d32'; Degraded = '#ef6c00'; Critical = '#c62828' }[$overall]
            $css = @"
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 .status { color: #fff; background: $colour; padding: 0.1em 0.5em; border-radius: 0.3em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.Critical, td.Error { color: #c62828; font-weight: bold; } td.Warning { color: #ef6c00; }
</style>
"@
            $q = $report.Quorum
            $summary = if ($q) {
                "<p>Quorum: <b>$(& $enc $q.Status)</b>, $($q.Reachable) of $($q.Managers) managers reachable (quorum $($q.QuorumSize), tolerates $($q.FaultTolerance) failure(s), $($q.RemainingTolerance) more now), leader $(& $enc $q.Leader).</p>"
            } else { "<p>The swarm could not be reached: $(& $enc $connectionError)</p>" }
            $body = [Text.StringBuilder]::new()
            [void]$body.Append("<h1>Swarm health <span class=`"status`">$(& $enc $overall)</span></h1>")
            [void]$body.Append("<p>Checked $(& $enc $report.CheckedAt) through $(& $enc $report.Endpoint) in $($report.DurationSeconds.ToString($inv)) s.</p>$summary")
            $sections = [ordered]@{
                Findings = @($report.Findings | Select-Object Severity, Id, Target, Message, Remedy)
                Nodes    = @($report.Nodes)
                Stacks   = @($report.Stacks)
                Services = @($report.Services | Select-Object Stack, Name, Mode, @{ n = 'Replicas'; e = { "$($_.Running)/$($_.Desired)" } }, UpdateState, Converged, Image)
            }
            foreach ($title in $sections.Keys) {
                [void]$body.Append("<h2>$title</h2>")
                if ($sections[$title].Count -eq 0) { [void]$body.Append('<p>None.</p>'); continue }
                $html = ($sections[$title] | ConvertTo-Html -Fragment) -join "`n"   # ConvertTo-Html encodes the values
                if ($title -eq 'Findings') { $html = [regex]::Replace($html, '<tr><td>(Critical|Error|Warning)</td>', '<tr><td class="$1">$1</td>') }
                [void]$body.Append($html)
            }
            # the page shell by hand (ConvertTo-Html -Body adds an empty table when it has no input objects)
            $page = "<!DOCTYPE html>`n<html><head><meta charset=`"utf-8`"/><title>Swarm health: $(& $enc $overall)</title>`n$css</head>`n<body>`n$($body.ToString())`n</body></html>`n"
            $page
        }
    }
}
finally {
    if ($ctx) { $ctx | Disconnect-SwarmCluster -ErrorAction SilentlyContinue }
}

$line = "Swarm health: $overall"
if ($quorum) { $line += " (quorum $($quorum.Status), $($quorum.Reachable)/$($quorum.Managers) managers reachable, $(@($serviceRows | Where-Object Converged -eq $true).Count)/$(@($serviceRows | Where-Object { $null -ne $_.Converged }).Count) services converged, $(@($findings | Where-Object { $_.Severity -ne 'Info' }).Count) finding(s))" }
elseif ($connectionError) { $line += ": $connectionError" }
Write-Host $line
if ($writeFailures.Count) { Write-Host "Output(s) not written: $($writeFailures -join ', ')" }
if ($PassThru) { $report }
# 1 Critical (wins: the swarm's state is what a scheduler alerts on), 2 an output could not be written, 0 otherwise
if ($overall -eq 'Critical') { exit 1 }
if ($writeFailures.Count) { exit 2 }
exit 0
