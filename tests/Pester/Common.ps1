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

# The Proxmox VE simulator (tests/ProxmoxSimulator, built by build.ps1 into out/sim): one instance per test file.
# Returns its URL, certificate fingerprint, admin token and process; Stop-ProxmoxSim ends it.
function Start-ProxmoxSim([double]$TimeScale = 0.05, [string[]]$Arguments = @()) {
    $dll = $env:SWARMADMIN_SIM
    if (-not $dll) { $dll = Join-Path $script:RepoRoot 'out/sim/ProxmoxSimulator.dll' }
    if (-not (Test-Path $dll)) { throw "The Proxmox simulator is not built ($dll). Run ./build.ps1 -Task Build." }
    $ready = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-sim-$PID-$([Guid]::NewGuid().ToString('N')).json"
    $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($dll, '--port', '0', '--time-scale', "$TimeScale", '--ready-file', $ready) + $Arguments) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $proc = [Diagnostics.Process]::Start($psi)
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while (-not (Test-Path $ready) -or -not (Get-Content $ready -Raw -ErrorAction SilentlyContinue)) {
        if ($proc.HasExited) { throw "The Proxmox simulator exited: $($proc.StandardError.ReadToEnd())" }
        if ([DateTime]::UtcNow -gt $deadline) { $proc.Kill(); throw 'The Proxmox simulator did not start within 30 s' }
        Start-Sleep -Milliseconds 100
    }
    $info = Get-Content $ready -Raw | ConvertFrom-Json
    Remove-Item $ready -ErrorAction SilentlyContinue
    $id, $secret = $info.adminToken -split '=', 2
    [pscustomobject]@{
        Url = $info.url; Fingerprint = $info.fingerprint; TokenId = $id; ReadonlyToken = $info.readonlyToken
        TokenSecret = (ConvertTo-SecureString $secret -AsPlainText -Force); Process = $proc
    }
}

function Stop-ProxmoxSim($Sim) {
    if ($Sim -and $Sim.Process -and -not $Sim.Process.HasExited) { $Sim.Process.Kill(); $Sim.Process.WaitForExit(5000) | Out-Null }
}

# A call to the simulator's test hooks (/_sim/...), which need no authentication and answer on loopback only.
function Invoke-ProxmoxSim($Sim, [string]$Method, [string]$Path, $Body) {
    $p = @{ Method = $Method; Uri = "$($Sim.Url)/_sim/$Path"; SkipCertificateCheck = $true }
    if ($null -ne $Body) { $p.Body = ($Body | ConvertTo-Json -Depth 10 -Compress); $p.ContentType = 'application/json' }
    Invoke-RestMethod @p
}

# The simulator as the lab's Proxmox: hosts lab-pve1..3 (examples/lab/cluster.yml), storage tank on lab-pve1 and
# lab-pve3, and VMs that are lab nodes (tests/lab/sim-hook.sh: a started VM is `lab.sh add-node NAME --address IP`).
function Start-ProxmoxLabSim([double]$TimeScale = 0.05) {
    $hook = "bash '$(Join-Path $script:RepoRoot 'tests/lab/sim-hook.sh')'"
    $sim = Start-ProxmoxSim -TimeScale $TimeScale -Arguments @('--on-start', $hook, '--on-stop', $hook)
    $state = Invoke-RestMethod -Uri "$($sim.Url)/_sim/state" -SkipCertificateCheck
    # templates only (stopped): the run section of a stopped VM does not round-trip
    $vms = @($state.vms | ForEach-Object { $_.PSObject.Properties.Remove('run'); $_ })
    $doc = [ordered]@{ cluster = $state.cluster; nodes = $state.nodes; storages = @($state.storages); volumes = $state.volumes; vms = $vms; tokens = $state.tokens; users = $state.users; pools = $state.pools }
    $doc.storages += [pscustomobject]@{ id = 'tank'; type = 'zfspool'; shared = $false; content = @('images', 'rootdir'); supportsLinkedClone = $true; copyThroughputMBps = 512; capacityBytes = 4398046511104; enabled = $true; isFileBased = $false; nodes = @('pve01', 'pve03') }
    $json = ($doc | ConvertTo-Json -Depth 20) -replace '"pve0([123])"', '"lab-pve$1"'
    Invoke-RestMethod -Method Post -Uri "$($sim.Url)/_sim/reset" -Body $json -ContentType 'application/json' -SkipCertificateCheck | Out-Null
    $sim
}
