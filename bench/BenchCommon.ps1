# Shared by bench/*.bench.ps1: the lab, and the docker CLI set up to reach it over SSH like a user would.
$ErrorActionPreference = 'Stop'
$LabState = (Resolve-Path -LiteralPath $LabState).Path   # absolute: its bin folder goes into PATH, and the docker CLI refuses relative PATH entries
$script:Lab = Get-Content $LabState -Raw | ConvertFrom-Json
$script:M1 = $script:Lab.Nodes | Where-Object { $_.Role -eq 'manager' -and $_.Joined } | Select-Object -First 1
$script:DockerCli = (Get-Command docker -CommandType Application | Select-Object -First 1).Source
$script:DockerHostArg = "ssh://root@$($script:M1.Address)"

# Runs a script block with the lab's ssh wrapper first in PATH (out/lab/bin/ssh: the lab key and known_hosts,
# strict host key checking), which is how `docker -H ssh://` finds its ssh options here.
function Invoke-WithLabSsh([scriptblock]$Body) {
    $oldPath = $env:PATH
    try {
        $env:PATH = (Join-Path (Split-Path $LabState) 'bin') + [IO.Path]::PathSeparator + $env:PATH
        & $Body
    }
    finally { $env:PATH = $oldPath }
}

function Invoke-DockerCli([string[]]$Arguments) {
    & $script:DockerCli -H $script:DockerHostArg @Arguments | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "docker $($Arguments -join ' ') failed" }
}

function Write-Ratio([string]$What, [TimeSpan]$Ours, [TimeSpan]$Cli, [double]$Target) {
    $ratio = $Ours.TotalSeconds / $Cli.TotalSeconds
    "{0}: SwarmAdmin {1:N3} s, docker CLI {2:N3} s, ratio {3:N3} (target <= {4}) {5}" -f $What, $Ours.TotalSeconds, $Cli.TotalSeconds, $ratio, $Target, $(if ($ratio -le $Target) { 'OK' } else { 'MISSED' })
}
