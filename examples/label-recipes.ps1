<#
.SYNOPSIS
    The reference cluster's node labelling recipes, runnable one by one: labels from the cluster file, a label by
    role, failure-domain labels (the Proxmox host of each node), the portainer.data=true management worker, removing a
    label everywhere, and listing the nodes that carry a label.
.DESCRIPTION
    Every recipe is idempotent (Set-SwarmNodeLabel sends nothing to a node that already has the wanted labels) and only
    adds or removes the keys it is about: other labels stay. -WhatIf shows the before and after label sets of every
    node and changes nothing. Recipes run in the order given to -Recipe:

      FromClusterFile  Each node of the cluster file (-ConfigPath) that is in the swarm gets the labels the file
                       declares, including proxmox.host=<its proxmoxHost>, which Import-SwarmClusterConfig adds.
                       Nodes of the file that are not in the swarm are skipped with a warning.
      ByRole           Every node of -Role (default Worker) gets the labels of -RoleLabel (default tier=infra: the
                       reference cluster's workers are its infrastructure nodes). Managers: -Role Manager
                       -RoleLabel @{ tier = 'app' }.
      FailureDomain    Each node gets -FailureDomainLabel (default proxmox.host) = the Proxmox host the cluster file
                       puts it on. Test-SwarmQuorum reads this label to check that no Proxmox host holds a majority of
                       the managers, and the infra stack spreads its tasks over it (placement preference).
      PortainerData    The management worker gets portainer.data=true and every other node loses it, so the
                       Portainer stack (constraint node.labels.portainer.data == true) has exactly one place to run.
                       The node is -PortainerNode, else the node the cluster file labels portainer.data=true.
      RemoveLabel      Removes the keys of -Key from every node that has them.
      ShowByLabel      Writes the nodes that carry each -Label (key, or key=value), as Get-SwarmNode returns them.

    -Prefix is put in front of every label key the recipes write, remove or look for (for example 'com.example.' to
    keep your labels in your own namespace; the tests use it so that they do not disturb other tests).

    Without -Endpoint the script uses the session's connection (Connect-SwarmCluster); the connection -Endpoint opens
    is closed at the end, also under -WhatIf and when a recipe fails.

    A node that cannot be labelled (an error from Set-SwarmNodeLabel) does not stop the others nor the next recipes:
    its error is shown, and at the end the script throws one error that names every node that failed (so a scheduled
    run fails; pwsh -File exits with 1).
.PARAMETER Recipe
    The recipes to run, in order: FromClusterFile, ByRole, FailureDomain, PortainerData, RemoveLabel, ShowByLabel.
.PARAMETER ConfigPath
    The cluster file (examples/cluster.yml format). Needed by FromClusterFile and FailureDomain, and by PortainerData
    without -PortainerNode.
.PARAMETER Prefix
    Put in front of every label key. Default: none.
.PARAMETER Role
    ByRole: the role whose nodes get -RoleLabel.
.PARAMETER RoleLabel
    ByRole: the labels, as a hashtable.
.PARAMETER FailureDomainLabel
    FailureDomain: the label key for the Proxmox host.
.PARAMETER PortainerNode
    PortainerData: the hostname of the management worker.
.PARAMETER Key
    RemoveLabel: the label keys to remove everywhere.
.PARAMETER Label
    ShowByLabel: key or key=value filters (default: portainer.data and the failure domain label).
.PARAMETER Endpoint
    ssh:// URIs of the managers; default: the session's connection.
.PARAMETER KeyFile
    SSH private key file(s) for -Endpoint.
.PARAMETER KnownHostsPath
    known_hosts file for -Endpoint.
.PARAMETER ModulePath
    Import SwarmAdmin from this path instead of from the module path.
.EXAMPLE
    Connect-SwarmCluster -Endpoint ssh://root@192.168.4.30 -KeyFile ~/.ssh/id_ed25519 | Out-Null
    ./examples/label-recipes.ps1 -Recipe FromClusterFile, PortainerData -ConfigPath ./examples/cluster.yml -WhatIf

    Shows, node by node, the labels examples/cluster.yml would set (proxmox.host everywhere, portainer.data=true on
    swarmpit-mgmt) without changing anything. Run it again without -WhatIf to apply them.
.EXAMPLE
    ./examples/label-recipes.ps1 -Recipe FailureDomain, ShowByLabel -ConfigPath ./examples/cluster.yml -Label proxmox.host=pve01 |
        Format-Table Hostname, Role, Labels

    Labels every node with its Proxmox host, then lists the nodes that run on pve01.
.EXAMPLE
    ./examples/label-recipes.ps1 -Recipe ByRole -Role Worker -RoleLabel @{ tier = 'infra' }
    ./examples/label-recipes.ps1 -Recipe RemoveLabel -Key tier -Confirm

    Labels every worker tier=infra; the second line removes the label from every node again, asking first.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('FromClusterFile', 'ByRole', 'FailureDomain', 'PortainerData', 'RemoveLabel', 'ShowByLabel')]
    [string[]]$Recipe,
    [string]$ConfigPath,
    [string]$Prefix = '',
    [ValidateSet('Worker', 'Manager')][string]$Role = 'Worker',
    [hashtable]$RoleLabel = @{ tier = 'infra' },
    [string]$FailureDomainLabel = 'proxmox.host',
    [string]$PortainerNode,
    [string[]]$Key,
    [string[]]$Label,
    [string[]]$Endpoint,
    [string[]]$KeyFile,
    [string]$KnownHostsPath,
    [string]$ModulePath
)
$ErrorActionPreference = 'Stop'
if ($ModulePath) { Import-Module (Resolve-Path -LiteralPath $ModulePath).ProviderPath -Force } elseif (-not (Get-Module SwarmAdmin)) { Import-Module SwarmAdmin }

$ctxArgs = @{}
# -WhatIf (and -Confirm through $ConfirmPreference) reach Set-SwarmNodeLabel. -ErrorAction Continue: a node that fails
# is reported (collected in $labelErrors) and the other nodes and recipes go on.
$labelErrors = [Collections.Generic.List[object]]::new()
$set = @{ WhatIf = [bool]$WhatIfPreference; ErrorAction = 'Continue'; ErrorVariable = '+labelErrors' }

function Get-Config {
    if (-not $ConfigPath) { throw "Recipe $($args[0]) needs the cluster file: pass -ConfigPath (e.g. ./examples/cluster.yml)." }
    if (-not $script:config) { $script:config = Import-SwarmClusterConfig -Path $ConfigPath }
    $script:config
}

function Add-Prefix([System.Collections.IDictionary]$Labels) {
    $out = @{}
    foreach ($kv in $Labels.GetEnumerator()) { $out["$Prefix$($kv.Key)"] = [string]$kv.Value }
    $out
}

# The nodes of the cluster file that are in the swarm, with a warning for the others.
function Get-DeclaredNode([string]$ForRecipe) {
    $live = @(Get-SwarmNode @ctxArgs)
    foreach ($n in (Get-Config $ForRecipe).Nodes) {
        if ($live.Hostname -contains $n.Name) { $n }
        else { Write-Warning "${ForRecipe}: $($n.Name) is in $ConfigPath but not in the swarm; skipped." }
    }
}

try {
    if ($Endpoint) {
        $connect = @{ Endpoint = $Endpoint; NoDefault = $true }
        if ($KeyFile) { $connect.KeyFile = $KeyFile }
        if ($KnownHostsPath) { $connect.KnownHostsPath = $KnownHostsPath }
        $ctxArgs.Context = Connect-SwarmCluster @connect -WhatIf:$false
        $set.Context = $ctxArgs.Context
    }
    foreach ($r in $Recipe) {
        Write-Verbose "Recipe $r"
        switch ($r) {
            'FromClusterFile' {
                foreach ($n in Get-DeclaredNode $r) {
                    if ($n.Labels.Count -eq 0) { continue }
                    Set-SwarmNodeLabel -Name $n.Name -Add (Add-Prefix $n.Labels) @set
                }
            }
            'ByRole' {
                if (-not $RoleLabel -or $RoleLabel.Count -eq 0) { throw 'ByRole needs -RoleLabel, e.g. @{ tier = "infra" }.' }
                Get-SwarmNode -Role $Role @ctxArgs | Set-SwarmNodeLabel -Add (Add-Prefix $RoleLabel) @set
            }
            'FailureDomain' {
                foreach ($n in Get-DeclaredNode $r) {
                    Set-SwarmNodeLabel -Name $n.Name -Add (Add-Prefix @{ $FailureDomainLabel = $n.ProxmoxHost }) @set
                }
            }
            'PortainerData' {
                $k = "${Prefix}portainer.data"
                $target = $PortainerNode
                if (-not $target) {
                    $declared = @((Get-Config $r).Nodes | Where-Object { $_.Labels['portainer.data'] -eq 'true' })
                    if ($declared.Count -ne 1) { throw "PortainerData: the cluster file labels $($declared.Count) node(s) portainer.data=true; pass -PortainerNode." }
                    $target = $declared[0].Name
                }
                $node = Get-SwarmNode -Name $target @ctxArgs   # SwarmNodeNotFound when it is not in the swarm
                if ($node.Role -ne 'Worker') { Write-Warning "PortainerData: $target is a manager; the reference cluster keeps Portainer's data on a worker." }
                Set-SwarmNodeLabel -Name $target -Add @{ $k = 'true' } @set
                # exactly one node may carry it
                Get-SwarmNode -Label $k @ctxArgs | Where-Object Hostname -ne $target | Set-SwarmNodeLabel -Remove $k @set
            }
            'RemoveLabel' {
                if (-not $Key) { throw 'RemoveLabel needs -Key, the label keys to remove.' }
                foreach ($k in $Key) {
                    Get-SwarmNode -Label "$Prefix$k" @ctxArgs | Set-SwarmNodeLabel -Remove "$Prefix$k" @set
                }
            }
            'ShowByLabel' {
                $filters = if ($Label) { $Label } else { @('portainer.data', $FailureDomainLabel) }
                foreach ($f in $filters) {
                    Get-SwarmNode -Label "$Prefix$f" @ctxArgs | Sort-Object Hostname
                }
            }
        }
    }
}
finally {
    # -WhatIf:$false: the script's -WhatIf must not keep the connection it opened from being closed
    if ($ctxArgs.Context) { $ctxArgs.Context | Disconnect-SwarmCluster -WhatIf:$false -ErrorAction SilentlyContinue }
}
if ($labelErrors.Count) {
    $targets = @($labelErrors | ForEach-Object { "$($_.TargetObject)" } | Where-Object { $_ } | Select-Object -Unique)
    throw "$($labelErrors.Count) label change(s) failed$(if ($targets) { " (node(s): $($targets -join ', '))" }); the errors above say why. The other nodes were labelled."
}
