<#
.SYNOPSIS
    Builds (or re-checks) a whole swarm from a cluster file: the first manager initialises the swarm, every other
    node joins with its declared role and labels, and the quorum is checked at the end. Safe to run again: nodes
    that already are what the file says are left alone.
.EXAMPLE
    ./examples/bootstrap-cluster.ps1 -ConfigPath ./examples/lab/cluster.yml
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
