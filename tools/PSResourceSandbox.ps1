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
# The variables are given to the child process only (ProcessStartInfo.Environment): the caller's own environment, which
# every thread of the caller shares, is never changed.
# On Windows the known folders (%LOCALAPPDATA%, ...) do not follow these variables, so PSResourceGet in the child would
# still use the user's real %LOCALAPPDATA%\PSResourceGet: the sandbox says so (Isolated = $false), and
# tools/New-SwarmPackage.ps1 refuses to run there unless told to accept it.

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
        # whether PSResourceGet in the child really uses the folders above (not on Windows: see the top of this file)
        Isolated    = -not $IsWindows
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
    $ErrorActionPreference = 'Stop'
    $commandLine = Get-PwshCommandLine
    $exe, $pre = $commandLine
    $psi = [System.Diagnostics.ProcessStartInfo]::new($exe)
    foreach ($a in @($pre | Where-Object { $_ }) + @('-NoProfile', '-NonInteractive', '-File', $scriptFile) + @($ArgumentList)) { $psi.ArgumentList.Add([string]$a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    # not the caller's folder: PSResourceGet falls back to ./PSResourceGet when it finds no data folder
    $psi.WorkingDirectory = $Sandbox.Root
    foreach ($k in $variables.Keys) { $psi.Environment[$k] = [string]$variables[$k] }   # the child's environment only
    $process = [System.Diagnostics.Process]::Start($psi)
    try {
        $process.StandardInput.Close()
        # both streams read at the same time: a child that fills one pipe while we wait on the other would hang forever
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        $process.WaitForExit()
        $output = @($stdout.GetAwaiter().GetResult(), $stderr.GetAwaiter().GetResult()) | Where-Object { $_ } | ForEach-Object { $_.TrimEnd() }
        $exitCode = $process.ExitCode
    }
    finally { $process.Dispose() }
    if ($exitCode -ne 0 -or -not (Test-Path -LiteralPath $resultFile)) {
        throw "The sandboxed pwsh failed (exit code $exitCode):`n$($output -join "`n")"
    }
    $result = Get-Content -LiteralPath $resultFile -Raw | ConvertFrom-Json
    Remove-Item -LiteralPath $scriptFile, $resultFile -ErrorAction SilentlyContinue
    $result
}
