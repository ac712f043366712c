#requires -Version 7.2
<#
.SYNOPSIS
    Builds, tests, benchmarks and demonstrates SwarmAdmin.
.DESCRIPTION
    Run it with the pinned PowerShell: `dotnet tool restore && dotnet pwsh ./build.ps1 -Task <Task>`.
      Build    compiles the module into out/SwarmAdmin (importable: Import-Module ./out/SwarmAdmin)
      Package  Build (with help), check the manifest, pack out/package/SwarmAdmin.<version>.nupkg (tools/New-SwarmPackage.ps1)
      Test     Build, start the lab, run xunit and Pester, stop the lab; last line "N passed, N failed"
      Lab      start the local swarm lab (Docker engines in containers, reached over SSH)
      LabDown  remove the lab
      Demo     Build, start the lab, run tools/demo.ps1 against it
      Bench    Build, start the lab, run every bench/*.ps1 (ratios against the docker CLI)
      Clean    remove out/
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Package', 'Test', 'Lab', 'LabDown', 'Demo', 'Bench', 'Clean')]
    [string]$Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string]$Configuration = 'Release',
    # Test: keep the lab running afterwards (faster reruns while developing).
    [switch]$KeepLab,
    # Test: only run Pester files whose path matches this wildcard.
    [string]$PesterFilter = '*',
    # Build: skip generating help (quick inner loop while docs are being written; Test never skips it).
    [switch]$NoHelp
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$root = $PSScriptRoot
$out = Join-Path $root 'out'
$moduleOut = Join-Path $out 'SwarmAdmin'
$labScript = Join-Path $root 'tests/lab/lab.sh'
$labState = Join-Path $out 'lab/state.json'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

function Write-Step([string]$Text) { Write-Host "==> $Text" -ForegroundColor Cyan }

function Invoke-Native {
    param([string]$File, [string[]]$Arguments)
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "'$File $($Arguments -join ' ')' failed with exit code $LASTEXITCODE" }
}

function Invoke-Build {
    Write-Step "Restoring build tools (Pester, fixtures) from NuGet"
    Invoke-Native dotnet @('restore', (Join-Path $root 'tools/ToolRestore.csproj'), '--verbosity', 'quiet')
    Write-Step "Compiling ($Configuration)"
    $staging = Join-Path $out 'build'
    Remove-Item $staging -Recurse -Force -ErrorAction SilentlyContinue
    Invoke-Native dotnet @('publish', (Join-Path $root 'src/SwarmAdmin/SwarmAdmin.csproj'), '-c', $Configuration, '-o', (Join-Path $staging 'module'), '--nologo', '--verbosity', 'quiet')
    Invoke-Native dotnet @('publish', (Join-Path $root 'src/SwarmAdmin.Loader/SwarmAdmin.Loader.csproj'), '-c', $Configuration, '-o', (Join-Path $staging 'loader'), '--nologo', '--verbosity', 'quiet')

    $simProject = Join-Path $root 'tests/ProxmoxSimulator/ProxmoxSimulator.csproj'
    if (Test-Path $simProject) {
        Write-Step "Compiling the Proxmox VE simulator (test infrastructure) into $(Join-Path $out 'sim')"
        Invoke-Native dotnet @('build', $simProject, '-c', $Configuration, '-o', (Join-Path $out 'sim'), '--nologo', '--verbosity', 'quiet')
    }

    Write-Step "Assembling $moduleOut"
    Remove-Item $moduleOut -Recurse -Force -ErrorAction SilentlyContinue
    $bin = New-Item -ItemType Directory -Force (Join-Path $moduleOut 'bin')
    Get-ChildItem (Join-Path $staging 'module') -Filter *.dll | Where-Object Name -ne 'System.Management.Automation.dll' | Copy-Item -Destination $bin
    Copy-Item (Join-Path $staging 'loader/SwarmAdmin.Loader.dll') $bin
    # the manifest, the script module and every format file (SwarmAdmin*.Format.ps1xml, all listed in FormatsToProcess)
    foreach ($f in @('SwarmAdmin.psd1', 'SwarmAdmin.psm1') + @(Get-ChildItem $root -Filter 'SwarmAdmin*.Format.ps1xml' | ForEach-Object Name)) { Copy-Item (Join-Path $root $f) $moduleOut }
    if (Test-Path (Join-Path $root 'LICENSE')) { Copy-Item (Join-Path $root 'LICENSE') $moduleOut }

    if ($NoHelp -and $Task -eq 'Build') { Write-Host "Built without help: Import-Module $moduleOut"; return }
    Write-Step "Generating help from docs/"
    $helpDir = New-Item -ItemType Directory -Force (Join-Path $moduleOut 'en-US')
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/New-MamlHelp.ps1'),
        '-ModulePath', $moduleOut, '-DocsPath', (Join-Path $root 'docs'), '-OutputPath', $helpDir)
    Write-Host "Built: Import-Module $moduleOut"
}

function Get-PesterPath {
    $p = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages/pester/5.7.1/tools/Pester.psd1'
    if ($env:NUGET_PACKAGES) { $p = Join-Path $env:NUGET_PACKAGES 'pester/5.7.1/tools/Pester.psd1' }
    if (-not (Test-Path $p)) { throw "Pester 5.7.1 is not in the NuGet cache ($p). Run: dotnet restore tools/ToolRestore.csproj" }
    $p
}

function Start-Lab {
    Write-Step "Starting the lab"
    Invoke-Native bash @($labScript, 'up', '--managers', '3', '--workers', '2', '--spare', '1', '--state', $labState)
}

function Stop-Lab {
    Write-Step "Removing the lab"
    & bash $labScript down --state $labState
}

# Files that work only on lab nodes of their own run in a second Pester process beside the others (CI is held to 30
# minutes on two cores): DisasterRecovery (a swarm on swarmlab-dr1..5, mostly waiting for engines to stop and start),
# EngineRepository (fresh nodes that join nothing), EngineManagers (fresh nodes forming a swarm of their own),
# NonRootSsh (one fresh node with a single-node swarm). Node changes on both sides go through lab.sh, which serialises
# them with its lock. A file added here must not touch the main lab swarm or another file's nodes.
$script:SideLane = @('DisasterRecovery.Tests.ps1', 'EngineRepository.Tests.ps1', 'EngineManagers.Tests.ps1', 'NonRootSsh.Tests.ps1')

function Get-PesterRunnerArgs([string]$Lane, [string[]]$Exclude, [string[]]$Only) {
    $a = @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tests/Invoke-PesterRun.ps1'), '-PesterPath', (Get-PesterPath),
        '-ModulePath', $moduleOut, '-LabState', $labState, '-TestsPath', (Join-Path $root 'tests/Pester'),
        '-ResultPath', (Join-Path $out "test-results/pester-$Lane.xml"), '-SummaryPath', (Join-Path $out "test-results/pester-$Lane-summary.json"))
    # (a bare '*' would be expanded as a file glob by pwsh when passed to a native command)
    if ($PesterFilter -ne '*') { $a += @('-Filter', $PesterFilter) }
    if ($Exclude) { $a += @('-Exclude', ($Exclude -join ',')) }
    if ($Only) { $a += @('-Only', ($Only -join ',')) }
    $a
}

function Read-PesterSummary([string]$Lane, $Results) {
    $file = Join-Path $out "test-results/pester-$Lane-summary.json"
    if (Test-Path $file) {
        $s = Get-Content $file -Raw | ConvertFrom-Json
        $Results.PesterPassed += [int]$s.Passed
        $Results.PesterFailed += [int]$s.Failed
        $Results.PesterSkipped += [int]$s.Skipped
    }
    else { $Results.PesterFailed += 1; Write-Warning "Pester ($Lane lane) produced no summary (the runner crashed)." }
}

function Invoke-PesterLanes($Results) {
    Remove-Item (Join-Path $out 'test-results/pester-*') -ErrorAction SilentlyContinue
    $sideLog = Join-Path $out 'test-results/pester-side.log'
    # a thread job: the side runner's output goes to a file (printed after the main lane's live output)
    $sideArgs = @(Get-PesterRunnerArgs 'side' -Only $script:SideLane)
    $side = Start-ThreadJob -ScriptBlock {
        $runnerArgs = $using:sideArgs
        & dotnet @runnerArgs *> $using:sideLog
    }
    try {
        $mainArgs = Get-PesterRunnerArgs 'main' -Exclude $script:SideLane
        # (to the host, line by line: this function's output is not the place for it)
        & dotnet @mainArgs | Out-Host
    }
    finally {
        if ($side.State -eq 'Running') { Write-Step "Waiting for the side lane ($($script:SideLane -join ', '))" }
        $null = $side | Wait-Job
        $side | Receive-Job -ErrorAction SilentlyContinue | Write-Host
        $side | Remove-Job
        Write-Step "Side lane output ($($script:SideLane -join ', '))"
        Get-Content $sideLog -ErrorAction SilentlyContinue | Write-Host
    }
    Read-PesterSummary 'main' $Results
    Read-PesterSummary 'side' $Results
}

function Invoke-Tests {
    Invoke-Build
    $results = [ordered]@{ XunitPassed = 0; XunitFailed = 0; PesterPassed = 0; PesterFailed = 0; PesterSkipped = 0 }

    Write-Step "xunit"
    $trx = Join-Path $out 'test-results'
    Remove-Item $trx -Recurse -Force -ErrorAction SilentlyContinue
    & dotnet test (Join-Path $root 'tests/SwarmAdmin.Tests/SwarmAdmin.Tests.csproj') -c $Configuration --nologo --logger "trx;LogFileName=xunit.trx" --results-directory $trx
    $trxFile = Get-ChildItem $trx -Filter *.trx -Recurse -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($trxFile) {
        [xml]$x = Get-Content $trxFile.FullName -Raw
        $c = $x.TestRun.ResultSummary.Counters
        $results.XunitPassed = [int]$c.passed
        $results.XunitFailed = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
    }
    elseif ($LASTEXITCODE -ne 0) { $results.XunitFailed = 1 }

    $labStarted = $false
    try {
        Start-Lab
        $labStarted = $true
        Write-Step "Pester (fresh pwsh, built module)"
        Invoke-PesterLanes $results
    }
    catch {
        Write-Warning "Test run aborted: $_"
        $results.PesterFailed += 1
    }
    finally {
        if ($labStarted -and -not $KeepLab) { Stop-Lab }
    }

    $passed = $results.XunitPassed + $results.PesterPassed
    $failed = $results.XunitFailed + $results.PesterFailed
    Write-Host ("xunit: {0} passed, {1} failed; Pester: {2} passed, {3} failed, {4} skipped" -f $results.XunitPassed, $results.XunitFailed, $results.PesterPassed, $results.PesterFailed, $results.PesterSkipped)
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Package' {
        Invoke-Build
        Write-Step "Packing $moduleOut"
        $nupkg = & (Join-Path $root 'tools/New-SwarmPackage.ps1') -ModulePath $moduleOut -OutputPath (Join-Path $out 'package')
        Write-Host "Package: $($nupkg.FullName)"
    }
    'Test' { Invoke-Tests }
    'Lab' { Start-Lab; Get-Content $labState }
    'LabDown' { Stop-Lab }
    'Demo' {
        Invoke-Build
        Start-Lab
        Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/demo.ps1'), '-ModulePath', $moduleOut, '-LabState', $labState)
    }
    'Bench' {
        Invoke-Build
        Start-Lab
        foreach ($b in Get-ChildItem (Join-Path $root 'bench') -Filter *.bench.ps1 | Sort-Object Name) {
            Write-Step "Bench $($b.Name)"
            Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', $b.FullName, '-ModulePath', $moduleOut, '-LabState', $labState)
        }
    }
    'Clean' { Remove-Item $out -Recurse -Force -ErrorAction SilentlyContinue }
}
