<#
.SYNOPSIS
    Builds (or re-checks) a whole swarm from a cluster file: the first manager initialises the swarm, every other
    node joins with its declared role and labels, and the quorum is checked at the end. Safe to run again: nodes
    that already are what the file says are left alone.
.DESCRIPTION
    Reads the cluster file with Import-SwarmClusterConfig, runs Initialize-Swarm on its first manager (which connects
    to the swarm instead when that node already manages one), pipes every other node into Join-SwarmNode, and writes
    the Test-SwarmQuorum report. SSH user, key and known_hosts come from the file's ssh section.
.PARAMETER ConfigPath
    The cluster file (examples/cluster.yml format).
.PARAMETER ModulePath
    Import SwarmAdmin from this path instead of from the module path.
.PARAMETER ThrottleLimit
    How many nodes join at the same time.
.EXAMPLE
    ./examples/bootstrap-cluster.ps1 -ConfigPath ./examples/lab/cluster.yml

    Builds the lab copy of the reference cluster from bare nodes (tests/lab/lab.sh add-node) and shows its quorum.
.EXAMPLE
    ./examples/bootstrap-cluster.ps1 -ConfigPath ./examples/cluster.yml -WhatIf

    Says what Initialize-Swarm would do on docker-app-1 and stops there: the joins need the swarm it would create.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)][string]$ConfigPath,
    [string]$ModulePath,
    [int]$ThrottleLimit = 4
)
$ErrorActionPreference = 'Stop'
if ($ModulePath) { Import-Module $ModulePath -Force } else { Import-Module SwarmAdmin }

$config = Import-SwarmClusterConfig -Path $ConfigPath
$managers = @($config.Nodes | Where-Object Role -eq 'Manager')
if (-not $managers) { throw "The cluster file declares no manager." }

# 1. The first manager creates the swarm (or, when it already manages one, connects to it).
$context = Initialize-Swarm -Node $managers[0] -WhatIf:$WhatIfPreference
if (-not $context) { return }   # -WhatIf

# 2. Everyone else joins with the role and labels the file declares, several at a time.
$config.Nodes | Where-Object Name -ne $managers[0].Name | Join-SwarmNode -ThrottleLimit $ThrottleLimit | Format-Table | Out-Host

# 3. Is the result what the file promised?
Test-SwarmQuorum
