<#
.SYNOPSIS
    A 30-service stack: `Deploy-SwarmStack` against `docker -H ssh://... stack deploy`, same file, same lab, same run.
    Prints the time to submit (both with their default --resolve-image always), the ratio (target of issue "Stacks":
    <= 1.0), the time of an unchanged redeploy for both, and the time until all 30 services converge with -Wait.
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json'),
    [int]$Services = 30,
    [int]$Rounds = 2
)
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$dir = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-bench-deploy-$PID"
New-Item -ItemType Directory -Path $dir -Force | Out-Null
$file = Join-Path $dir 'stack.yml'
$yaml = [Text.StringBuilder]::new("version: `"3.8`"`nservices:`n")
for ($i = 1; $i -le $Services; $i++) {
    [void]$yaml.Append(@"
  s$('{0:D2}' -f $i):
    image: lab/busybox:1
    command: ["sleep", "86400"]
    stop_grace_period: 1s
    environment:
      INDEX: "$i"
    labels:
      bench: "deploy"
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
      resources:
        limits: { memory: 32M }

"@)
}
$yaml.ToString() | Set-Content -Path $file

Import-Module $ModulePath -Force
Connect-SwarmCluster -Endpoint $DockerHostArg -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath | Out-Null

function Remove-BenchStack([string]$Name) {
    if (Get-SwarmStack -Name $Name -ErrorAction SilentlyContinue) { Remove-SwarmStack -Name $Name -Wait -TimeoutSec 300 -Confirm:$false }
}

$cliTimes = @(); $ourTimes = @(); $cliRedeploy = $null; $ourRedeploy = $null
try {
    for ($r = 1; $r -le $Rounds; $r++) {
        Invoke-WithLabSsh {
            Invoke-DockerCli @('node', 'ls')
            $script:cliTimes += Measure-Command { Invoke-DockerCli @('stack', 'deploy', '--detach=true', '-c', $file, 'benchcli') }
            if ($r -eq $Rounds) { $script:cliRedeploy = Measure-Command { Invoke-DockerCli @('stack', 'deploy', '--detach=true', '-c', $file, 'benchcli') } }
        }
        if ((Get-SwarmService -Stack benchcli).Count -ne $Services) { throw "docker stack deploy did not create $Services services" }
        Remove-BenchStack benchcli

        $ourTimes += Measure-Command { $script:result = Deploy-SwarmStack -Name benchps -Path $file -WarningAction SilentlyContinue }
        if ($result.Created -ne $Services) { throw "Deploy-SwarmStack created $($result.Created) services, not $Services" }
        if ($r -eq $Rounds) {
            $ourRedeploy = Measure-Command { $script:again = Deploy-SwarmStack -Name benchps -Path $file -WarningAction SilentlyContinue }
            if ($again.Unchanged -ne $Services) { throw "the unchanged redeploy updated $($again.Updated) services" }
        }
        Remove-BenchStack benchps
    }
    $converge = Measure-Command { $script:waited = Deploy-SwarmStack -Name benchps -Path $file -Wait -TimeoutSec 600 -WarningAction SilentlyContinue }
    if (-not $waited.Converged) { throw 'the 30-service stack did not converge' }
}
finally {
    Remove-BenchStack benchcli
    Remove-BenchStack benchps
    Disconnect-SwarmCluster
    Remove-Item -Recurse -Force $dir -ErrorAction SilentlyContinue
}

$bestCli = ($cliTimes | Sort-Object TotalSeconds | Select-Object -First 1)
$bestOurs = ($ourTimes | Sort-Object TotalSeconds | Select-Object -First 1)
"{0} services, best of {1}: submit Deploy-SwarmStack {2:N2} s, docker stack deploy {3:N2} s" -f $Services, $Rounds, $bestOurs.TotalSeconds, $bestCli.TotalSeconds
"unchanged redeploy: Deploy-SwarmStack {0:N2} s (0 updates), docker stack deploy {1:N2} s ({2} updates)" -f $ourRedeploy.TotalSeconds, $cliRedeploy.TotalSeconds, $Services
"fresh deploy until all {0} services converge (-Wait): {1:N1} s" -f $Services, $converge.TotalSeconds
Write-Ratio "Deploy-SwarmStack vs docker stack deploy, $Services services, time to submit" $bestOurs $bestCli 1.0
