<#
.SYNOPSIS
    Deploys the reference cluster's stacks (examples/stacks/*.yml) onto the connected swarm and waits until every
    service runs; a stack that does not converge is rolled back to its previous specs.
.DESCRIPTION
    Run Connect-SwarmCluster first. The Portainer-like stack is pinned to the node labelled portainer.data=true:
    pass -PortainerNode to label that node first (the cluster file's labels do this for you with Join-SwarmNode).
    Rerunning the script changes nothing on services whose files did not change (their tasks keep running).
    A stack that fails is reported (its errors, and a warning naming it) and the others are still deployed; the script
    then exits with 1.
.EXAMPLE
    Connect-SwarmCluster -Endpoint ssh://admin@manager1 | Out-Null
    ./examples/deploy-stacks.ps1 -PortainerNode mgmt-worker -WhatIf
.EXAMPLE
    ./examples/deploy-stacks.ps1 -Stack web, monitoring | Format-Table
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]]$Stack = @('portainer', 'web', 'monitoring', 'infra'),
    [string]$PortainerNode,
    [int]$TimeoutSec = 300,
    [ValidateSet('Always', 'Changed', 'Never')][string]$ResolveImage = 'Always',
    # put in front of each stack name (portainer -> <prefix>portainer), e.g. to deploy a second copy beside the first
    [string]$NamePrefix = ''
)
$ErrorActionPreference = 'Stop'
if ($PortainerNode) {
    Set-SwarmNodeLabel -Name $PortainerNode -Add @{ 'portainer.data' = 'true' } -WhatIf:$WhatIfPreference | Out-Null
}
# Each stack on its own: -ErrorAction Continue, so that a service that fails to deploy (a non-terminating error) does
# not stop Deploy-SwarmStack before -RollbackOnFailure has run, nor keep the other stacks from being deployed.
$failed = [Collections.Generic.List[string]]::new()
foreach ($name in $Stack) {
    $file = Join-Path $PSScriptRoot "stacks/$name.yml"
    $errs = $null
    $d = $null
    try {
        $d = Deploy-SwarmStack -Name "$NamePrefix$name" -Path $file -Wait -TimeoutSec $TimeoutSec -RollbackOnFailure -ResolveImage $ResolveImage -WhatIf:$WhatIfPreference -ErrorAction Continue -ErrorVariable errs
    }
    catch {
        # a whole-command error (bad file, no connection): reported, and the next stack is deployed
        Write-Error -ErrorRecord $_ -ErrorAction Continue
        $errs = @($_)
    }
    $d
    # under -WhatIf nothing is deployed and Converged is $null
    if ($errs -or ($d -and $null -ne $d.Converged -and -not $d.Converged)) { $failed.Add("$NamePrefix$name") }
}
if ($failed.Count) {
    Write-Warning "Stack(s) not deployed or not converged: $($failed -join ', ')."
    exit 1
}
