# The Proxmox VE simulator (tests/ProxmoxSimulator) as a process: used by the Pester tests, bench/ and the demo.
# Start-ProxmoxSim starts one instance (random loopback port, self-signed certificate) and returns its URL, certificate
# fingerprint and tokens; Start-ProxmoxLabSim makes it the lab's Proxmox (hosts of examples/lab/cluster.yml, VMs that
# are lab nodes through sim-hook.sh); Stop-ProxmoxSim ends it; Invoke-ProxmoxSim calls its /_sim test hooks.

# The Proxmox VE simulator (tests/ProxmoxSimulator, built by build.ps1 into out/sim): one instance per test file.
# Returns its URL, certificate fingerprint, admin token and process; Stop-ProxmoxSim ends it.
function Start-ProxmoxSim([double]$TimeScale = 0.05, [string[]]$Arguments = @()) {
    $dll = $env:SWARMADMIN_SIM
    if (-not $dll) { $dll = Join-Path $PSScriptRoot '../../out/sim/ProxmoxSimulator.dll' }
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
    $hook = "bash '$(Join-Path $PSScriptRoot 'sim-hook.sh')'"
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
