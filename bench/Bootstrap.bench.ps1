<#
.SYNOPSIS
    From 5 bare lab nodes to a swarm of 3 managers + 2 workers: SwarmAdmin (Initialize-Swarm, then Join-SwarmNode
    with joins in parallel) against the same steps with the docker CLI over SSH, one node after another, same run.
    Both end when every node is Ready (the CLI side polls `node ls` like a user would).
    Target (issue "Cluster bootstrap"): ratio <= 0.6.
#>
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/SwarmAdmin'),
    [string]$LabState = (Join-Path $PSScriptRoot '../out/lab/state.json')
)
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
$labScript = Join-Path $PSScriptRoot '../tests/lab/lab.sh'
$prefix = ($M1.Address -split '\.')[0..2] -join '.'
$bare = 1..5 | ForEach-Object { [pscustomobject]@{ Name = "swarmlab-bench$_"; Address = "$prefix.8$_"; Role = $(if ($_ -le 3) { 'Manager' } else { 'Worker' }) } }

function Reset-Bare {
    $env:DOCKER_HOST = $Lab.DockerHost
    foreach ($n in $bare) { & docker exec $n.Name docker swarm leave --force 2>$null | Out-Null }
    Remove-Item Env:DOCKER_HOST
}

try {
    foreach ($n in $bare) { & bash $labScript add-node $n.Name --address $n.Address 2>$null | Out-Null; if ($LASTEXITCODE) { throw "add-node $($n.Name) failed" } }
    $first = $bare[0]

    # docker CLI, one node after another
    $cli = Invoke-WithLabSsh {
        Measure-Command {
            $h = "ssh://root@$($first.Address)"
            & $DockerCli -H $h swarm init --advertise-addr $first.Address | Out-Null
            $mt = (& $DockerCli -H $h swarm join-token -q manager)
            $wt = (& $DockerCli -H $h swarm join-token -q worker)
            foreach ($n in $bare | Select-Object -Skip 1) {
                $t = if ($n.Role -eq 'Manager') { $mt } else { $wt }
                & $DockerCli -H "ssh://root@$($n.Address)" swarm join --token $t --advertise-addr $n.Address "$($first.Address):2377" | Out-Null
                if ($LASTEXITCODE) { throw "docker swarm join on $($n.Name) failed" }
            }
            do { $ready = @(& $DockerCli -H $h node ls --format '{{.Status}}' | Where-Object { $_ -eq 'Ready' }).Count } until ($ready -eq $bare.Count)
        }
    }
    Reset-Bare

    # SwarmAdmin
    Import-Module $ModulePath -Force
    $nodes = foreach ($n in $bare) {
        [SwarmAdmin.SwarmClusterNode]@{ Name = $n.Name; Address = $n.Address; Role = $n.Role; SshUser = 'root'; KeyFile = $Lab.KeyPath; KnownHostsPath = $Lab.KnownHostsPath }
    }
    $ours = Measure-Command {
        Initialize-Swarm -Node $nodes[0] | Out-Null
        $joined = $nodes | Select-Object -Skip 1 | Join-SwarmNode
        if (@($joined).Count -ne 4) { throw 'not every node joined' }
    }
    $check = Get-SwarmNode
    if (@($check | Where-Object State -eq 'ready').Count -ne 5 -or @($check | Where-Object Role -eq 'Manager').Count -ne 3) { throw 'the swarm is not 3 managers + 2 workers, all Ready' }
    Disconnect-SwarmCluster

    "bare -> 3 managers + 2 workers: docker CLI {0:N2} s, SwarmAdmin {1:N2} s" -f $cli.TotalSeconds, $ours.TotalSeconds
    Write-Ratio 'Bootstrap (Initialize-Swarm + parallel Join-SwarmNode) vs docker CLI init/join over SSH' $ours $cli 0.6
}
finally {
    foreach ($n in $bare) { & bash $labScript remove-node $n.Name 2>$null | Out-Null }
}
