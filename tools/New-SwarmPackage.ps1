<#
.SYNOPSIS
    Packs a built SwarmAdmin module folder into SwarmAdmin.<version>.nupkg, the package format of the PowerShell
    Gallery and of PSResourceGet repositories.
.DESCRIPTION
    `build.ps1 -Task Package` and tests/Pester/Package.Tests.ps1 both call this script, so the test exercises the
    packaging code that the build uses.
    1. Checks the module folder: Test-ModuleManifest; the gallery metadata (Author, Description, Tags, ProjectUri,
       LicenseUri, ReleaseNotes); an explicit CmdletsToExport; bin/SwarmAdmin.dll with the same version as
       ModuleVersion; bin/SwarmAdmin.Loader.dll; the root module; every FormatsToProcess file; en-US help; LICENSE.
    2. Packs it with PSResourceGet's Compress-PSResource, which uses the same packer as Publish-PSResource (same nuspec),
       in a sandboxed child pwsh (tools/PSResourceSandbox.ps1): PSResourceGet creates its repository store on first use,
       and the user's store should stay untouched. On Windows that isolation does not work (the known folders ignore
       the sandbox's variables, so PSResourceGet would write %LOCALAPPDATA%\PSResourceGet\PSResourceRepository.xml of
       the real user): the script refuses there unless -AllowUserPSResourceStore says that is acceptable.
    3. Writes <OutputPath>/SwarmAdmin.<version>.nupkg, replacing a file of the same name, and returns it as a FileInfo.
       PSResourceGet warnings are passed on as warnings.
#>
[CmdletBinding()]
[OutputType([System.IO.FileInfo])]
param(
    # The built module folder (build.ps1 -Task Build: out/SwarmAdmin). Its name must be the module name.
    [Parameter(Mandatory)][string]$ModulePath,
    # Where the .nupkg goes (build.ps1: out/package).
    [Parameter(Mandatory)][string]$OutputPath,
    # Windows only: pack even though PSResourceGet may create or change the user's own repository store
    # (%LOCALAPPDATA%\PSResourceGet), which the sandbox cannot redirect there.
    [switch]$AllowUserPSResourceStore
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
. (Join-Path $PSScriptRoot 'PSResourceSandbox.ps1')

$ModulePath = (Resolve-Path -LiteralPath $ModulePath).Path
$name = Split-Path $ModulePath -Leaf
$manifestPath = Join-Path $ModulePath "$name.psd1"
if (-not (Test-Path -LiteralPath $manifestPath)) { throw "$ModulePath has no $name.psd1: pass the built module folder (build.ps1 -Task Build makes out/SwarmAdmin)." }

# 1. the folder and the manifest
$null = Test-ModuleManifest -Path $manifestPath
$manifest = Import-PowerShellDataFile -LiteralPath $manifestPath
$psData = $manifest.PrivateData.PSData
$problems = [System.Collections.Generic.List[string]]::new()
foreach ($key in 'Author', 'Description', 'GUID', 'ModuleVersion', 'CompatiblePSEditions') {
    if (-not $manifest[$key]) { $problems.Add("the manifest has no $key") }
}
foreach ($key in 'Tags', 'ProjectUri', 'LicenseUri', 'ReleaseNotes') {
    if (-not $psData[$key]) { $problems.Add("the manifest has no PrivateData.PSData.$key") }
}
if (-not $manifest.CmdletsToExport -or @($manifest.CmdletsToExport) -match '\*') { $problems.Add('CmdletsToExport must list the cmdlets explicitly (no wildcard)') }
$expected = @('bin/SwarmAdmin.dll', 'bin/SwarmAdmin.Loader.dll', $manifest.RootModule, "en-US/$name.dll-Help.xml", 'LICENSE') + @($manifest.FormatsToProcess)
foreach ($file in $expected) {
    if (-not (Test-Path -LiteralPath (Join-Path $ModulePath $file))) { $problems.Add("$file is missing (build.ps1 -Task Package builds it with help)") }
}
$dll = Join-Path $ModulePath 'bin/SwarmAdmin.dll'
if (Test-Path -LiteralPath $dll) {
    $assemblyVersion = [System.Reflection.AssemblyName]::GetAssemblyName($dll).Version
    $moduleVersion = [version]$manifest.ModuleVersion
    if ($assemblyVersion.Major -ne $moduleVersion.Major -or $assemblyVersion.Minor -ne $moduleVersion.Minor -or $assemblyVersion.Build -ne [Math]::Max(0, $moduleVersion.Build)) {
        $problems.Add("bin/SwarmAdmin.dll is version $assemblyVersion but ModuleVersion is $moduleVersion (set <Version> in Directory.Build.props to the same)")
    }
}
if ($problems.Count) { throw "Cannot package $ModulePath`: $($problems -join '; ')." }

# 2. pack in a sandbox
if ($IsWindows) {
    $store = Join-Path ([Environment]::GetFolderPath('LocalApplicationData')) 'PSResourceGet\PSResourceRepository.xml'
    if (-not $AllowUserPSResourceStore) {
        throw "On Windows the PSResourceGet sandbox cannot redirect PSResourceGet's repository store: Compress-PSResource would create or change $store (it adds PSGallery on first use). Package on Linux or macOS, or pass -AllowUserPSResourceStore to accept that."
    }
    Write-Warning "-AllowUserPSResourceStore: PSResourceGet may create or change $store (not sandboxed on Windows)."
}
$sandbox = New-PSResourceSandbox
try {
    $packed = Invoke-SandboxPwsh -Sandbox $sandbox -ArgumentList $ModulePath, (Join-Path $sandbox.Root 'nupkg') -Script {
        param([string]$ModulePath, [string]$Destination)
        $null = New-Item -ItemType Directory -Force $Destination
        $file = Compress-PSResource -Path $ModulePath -DestinationPath $Destination -PassThru -WarningVariable warnings
        [pscustomobject]@{ Path = "$($file.FullName)"; Warnings = @($warnings | ForEach-Object { "$_" }) }
    }.ToString()
    foreach ($w in @($packed.Warnings)) { if ($w) { Write-Warning "PSResourceGet: $w" } }
    $expectedName = "$name.$($manifest.ModuleVersion).nupkg"
    if ((Split-Path $packed.Path -Leaf) -ne $expectedName) { throw "Compress-PSResource wrote $($packed.Path), expected $expectedName." }

    # 3. hand it out
    $null = New-Item -ItemType Directory -Force $OutputPath
    $target = Join-Path (Resolve-Path -LiteralPath $OutputPath).Path $expectedName
    Move-Item -LiteralPath $packed.Path -Destination $target -Force
    Get-Item -LiteralPath $target
}
finally {
    Remove-Item -LiteralPath $sandbox.Root -Recurse -Force -ErrorAction SilentlyContinue
}
