# Dot-source this file. It runs PowerShell code in a child pwsh (the same PowerShell as the caller) whose home,
# XDG folders and temp folder live in a throw-away directory, so that PSResourceGet's repository store
# ($XDG_DATA_HOME/PSResourceGet/PSResourceRepository.xml) and its CurrentUser install folder
# ($XDG_DATA_HOME/powershell/Modules) are the sandbox's, never the user's.
# Used by tools/New-SwarmPackage.ps1 (build.ps1 -Task Package) and tests/Pester/Package.Tests.ps1.
#
# Two things found with PSResourceGet 1.2.0 (inside pwsh 7.6.9) on Linux:
# - .NET's GetFolderPath(LocalApplicationData) returns '' when $XDG_DATA_HOME (or ~/.local/share) does not exist;
#   PSResourceGet then writes its store to ./PSResourceGet/ relative to the CURRENT DIRECTORY. So the folders are
#   created up front here.
# - Even Compress-PSResource creates the store (with a PSGallery entry) on first use.
# On Windows the known folders do not follow these variables: the isolation is for Linux/macOS (the lab platform).

function New-PSResourceSandbox {
    param([string]$Path = (Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-psrg-$([guid]::NewGuid().ToString('N').Substring(0, 12))"))
    $homeDir = Join-Path $Path 'home'
    $dataHome = Join-Path $homeDir '.local/share'
    $sandbox = [pscustomobject]@{
        Root        = $Path
        Home        = $homeDir
        DataHome    = $dataHome
        ConfigHome  = Join-Path $homeDir '.config'
        CacheHome   = Join-Path $homeDir '.cache'
        Temp        = Join-Path $Path 'tmp'
        # where PSResourceGet keeps its repository store and Install-PSResource -Scope CurrentUser puts modules
        RepositoryStore = Join-Path $dataHome 'PSResourceGet/PSResourceRepository.xml'
        UserModules = Join-Path $dataHome 'powershell/Modules'
    }
    foreach ($d in $sandbox.DataHome, $sandbox.ConfigHome, $sandbox.CacheHome, $sandbox.Temp, $sandbox.UserModules) {
        $null = New-Item -ItemType Directory -Force $d
    }
    $sandbox
}

# The command line that starts this same PowerShell: pwsh(.exe) itself, or `dotnet <PSHOME>/pwsh.dll` when it runs as
# a dotnet tool (`dotnet pwsh` resolves the tool through ~/.nuget, which a sandboxed HOME would hide).
function Get-PwshCommandLine {
    $exe = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'pwsh') { return , @($exe) }
    , @($exe, (Join-Path $PSHOME 'pwsh.dll'))
}

# Runs $Script (the text of a script block: param(...) then code) in a sandboxed child pwsh with the given positional
# string arguments and returns what the script block returned, through JSON (-Depth 6). Throws with the child's
# output when it fails. -ModulePath: the child's PSModulePath (default: the sandbox's CurrentUser module folder).
function Invoke-SandboxPwsh {
    param(
        [Parameter(Mandatory)] $Sandbox,
        [Parameter(Mandatory)][string]$Script,
        [string[]]$ArgumentList = @(),
        [string]$ModulePath = $Sandbox.UserModules,
        [int]$JsonDepth = 6
    )
    $id = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $scriptFile = Join-Path $Sandbox.Root "child-$id.ps1"
    $resultFile = Join-Path $Sandbox.Root "child-$id.json"
    Set-Content -LiteralPath $scriptFile -Encoding utf8 -Value @"
`$ErrorActionPreference = 'Stop'
`$PSStyle.OutputRendering = 'PlainText'
`$__result = & {
$Script
} @args
ConvertTo-Json -InputObject `$__result -Depth $JsonDepth | Set-Content -LiteralPath '$($resultFile.Replace("'", "''"))' -Encoding utf8
"@
    $variables = [ordered]@{
        HOME = $Sandbox.Home; USERPROFILE = $Sandbox.Home
        XDG_DATA_HOME = $Sandbox.DataHome; XDG_CONFIG_HOME = $Sandbox.ConfigHome; XDG_CACHE_HOME = $Sandbox.CacheHome
        LOCALAPPDATA = Join-Path $Sandbox.Home 'AppData/Local'; APPDATA = Join-Path $Sandbox.Home 'AppData/Roaming'
        TMPDIR = $Sandbox.Temp; TMP = $Sandbox.Temp; TEMP = $Sandbox.Temp
        PSModulePath = $ModulePath
        NO_COLOR = '1'; POWERSHELL_TELEMETRY_OPTOUT = '1'; POWERSHELL_UPDATECHECK = 'Off'
    }
    $saved = @{}
    foreach ($k in $variables.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k) }
    $commandLine = Get-PwshCommandLine
    try {
        foreach ($k in $variables.Keys) { [Environment]::SetEnvironmentVariable($k, $variables[$k]) }
        $exe, $pre = $commandLine
        $output = & $exe @($pre | Where-Object { $_ }) -NoProfile -NonInteractive -File $scriptFile @ArgumentList 2>&1 | ForEach-Object { "$_" }
        $exitCode = $LASTEXITCODE
    }
    finally {
        foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) }
    }
    if ($exitCode -ne 0 -or -not (Test-Path -LiteralPath $resultFile)) {
        throw "The sandboxed pwsh failed (exit code $exitCode):`n$($output -join "`n")"
    }
    $result = Get-Content -LiteralPath $resultFile -Raw | ConvertFrom-Json
    Remove-Item -LiteralPath $scriptFile, $resultFile -ErrorAction SilentlyContinue
    $result
}
