<#
.SYNOPSIS
    Runs the Pester suite in this (fresh) pwsh against the built module and the running lab, and writes a summary.
#>
param(
    [Parameter(Mandatory)][string]$PesterPath,
    [Parameter(Mandatory)][string]$ModulePath,
    [Parameter(Mandatory)][string]$LabState,
    [Parameter(Mandatory)][string]$TestsPath,
    [Parameter(Mandatory)][string]$ResultPath,
    [Parameter(Mandatory)][string]$SummaryPath,
    [string]$Filter = '*',
    # file names (wildcards) left out: build.ps1 runs them in a second runner beside this one
    [string[]]$Exclude = @(),
    # only these file names (wildcards): the side lane
    [string[]]$Only = @()
)
$ErrorActionPreference = 'Stop'
# plain text everywhere: escape codes in failure messages break the NUnit XML report
$PSStyle.OutputRendering = 'PlainText'
$env:NO_COLOR = '1'
Import-Module $PesterPath -Force
$env:SWARMADMIN_MODULE = (Resolve-Path $ModulePath).Path
$env:SWARMADMIN_LAB_STATE = (Resolve-Path $LabState).Path

# (pwsh -File passes 'a,b' as one string)
$Exclude = @($Exclude | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
$Only = @($Only | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
$files = Get-ChildItem $TestsPath -Filter *.Tests.ps1 -Recurse | Where-Object { $_.FullName -like $Filter -or $_.Name -like $Filter } |
    Where-Object { $f = $_; -not @($Exclude | Where-Object { $f.Name -like $_ }) } |
    Where-Object { $f = $_; -not $Only -or @($Only | Where-Object { $f.Name -like $_ }) } | Sort-Object Name
if (-not $files) {
    # nothing to run in this lane: an empty summary (Pester given no path would run the current folder)
    [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0; NotRun = 0 } | ConvertTo-Json | Set-Content -LiteralPath $SummaryPath
    return
}
$config = New-PesterConfiguration
$config.Run.Path = @($files.FullName)
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = $ResultPath
$null = New-Item -ItemType Directory -Force (Split-Path $ResultPath)
try { $result = Invoke-Pester -Configuration $config }
catch {
    Write-Warning "Pester reported a problem after the run: $_"
    $result = $null
}
if (-not $result) { $result = [pscustomobject]@{ PassedCount = 0; FailedCount = 1; FailedBlocksCount = 0; FailedContainersCount = 0; SkippedCount = 0; NotRunCount = 0 } }
[pscustomobject]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount
    NotRun  = $result.NotRunCount
} | ConvertTo-Json | Set-Content -LiteralPath $SummaryPath
