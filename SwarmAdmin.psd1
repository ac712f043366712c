@{
    RootModule           = 'SwarmAdmin.psm1'
    ModuleVersion        = '0.9.0'
    CompatiblePSEditions = @('Core', 'Desktop')
    GUID                 = '6f1d3c2a-8b4e-4f57-9a0c-2d5e7b1c9f43'
    Author               = 'SwarmAdmin contributors'
    CompanyName          = 'SwarmAdmin'
    Copyright            = '(c) SwarmAdmin contributors. MIT License.'
    Description          = 'Build and run a Docker Swarm cluster on Proxmox VE from PowerShell: typed cmdlets over the Docker Engine API through SSH, with quorum-aware node operations.'
    PowerShellVersion    = '5.1'
    DotNetFrameworkVersion = '4.7.2'   # Windows PowerShell only: netstandard2.0 libraries need .NET Framework 4.7.2
    FormatsToProcess     = @('SwarmAdmin.Format.ps1xml', 'SwarmAdmin.Config.Format.ps1xml', 'SwarmAdmin.Secrets.Format.ps1xml', 'SwarmAdmin.Maintenance.Format.ps1xml', 'SwarmAdmin.Recovery.Format.ps1xml', 'SwarmAdmin.Engine.Format.ps1xml')
    FunctionsToExport    = @()
    CmdletsToExport      = @(
        'Connect-SwarmCluster'
        'Disconnect-SwarmCluster'
        'Get-SwarmNode'
        'Set-SwarmNodeLabel'
        'Set-SwarmNodeAvailability'
        'Test-SwarmQuorum'
        'Import-SwarmClusterConfig'
        'Get-SwarmCapacity'
        'Initialize-Swarm'
        'Join-SwarmNode'
        'Set-SwarmNodeRole'
        'Remove-SwarmNode'
        'Get-SwarmJoinToken'
        'Invoke-SwarmTokenRotation'
        'Get-SwarmStack'
        'Get-SwarmService'
        'Get-SwarmTask'
        'Remove-SwarmStack'
        'Get-SwarmServiceLog'
        'Deploy-SwarmStack'
        'Connect-SwarmProxmox'
        'Get-SwarmVm'
        'New-SwarmVm'
        'Start-SwarmVm'
        'Stop-SwarmVm'
        'Remove-SwarmVm'
        'Sync-SwarmCluster'
        'Backup-SwarmManager'
        'Restore-SwarmManager'
        'Restore-SwarmQuorum'
        'New-SwarmSecret'
        'Get-SwarmSecret'
        'Remove-SwarmSecret'
        'Update-SwarmSecret'
        'New-SwarmConfig'
        'Get-SwarmConfig'
        'Remove-SwarmConfig'
        'Update-SwarmConfig'
        'Invoke-SwarmRebalance'
        'Invoke-SwarmNodeMaintenance'
        'Install-SwarmEngine'
        'Test-SwarmNodeReadiness'
    )
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Docker', 'Swarm', 'Proxmox', 'SSH', 'Cluster', 'Linux', 'PSEdition_Core', 'PSEdition_Desktop', 'DockerSwarm', 'Homelab', 'Raft')
            # The project URL lives here only: LicenseUri points into it, tests and packaging read both from this manifest.
            ProjectUri   = 'https://github.com/swarmadmin/SwarmAdmin'
            LicenseUri   = 'https://github.com/swarmadmin/SwarmAdmin/blob/main/LICENSE'
            ReleaseNotes = @'
0.9.0 (release candidate)
- Foundation: Connect-SwarmCluster over SSH (docker system dial-stdio, one kept-open connection) with OpenSSH known_hosts verification and manager fail-over; typed output objects with table views; dependencies isolated in a private AssemblyLoadContext on PowerShell 7.
- Node operations: Get-SwarmNode, Set-SwarmNodeLabel, Set-SwarmNodeAvailability (-Wait for drains), Set-SwarmNodeRole with the quorum rule as a guard, Remove-SwarmNode, Test-SwarmQuorum findings, Invoke-SwarmNodeMaintenance, Invoke-SwarmRebalance.
- Bootstrap: Import-SwarmClusterConfig (validated cluster file), Get-SwarmCapacity, Initialize-Swarm, Join-SwarmNode in parallel, join tokens as SecureString and their rotation.
- Stacks: Deploy-SwarmStack (docker stack deploy compatible, -WhatIf diffs, unchanged services untouched, -Wait, -RollbackOnFailure), Get/Remove-SwarmStack, services, tasks and logs as objects, secrets and configs with rotation.
- Proxmox VE: Connect-SwarmProxmox with pinned TLS, New/Start/Stop/Remove-SwarmVm from cloud-init templates, Sync-SwarmCluster converges a cluster file onto VMs and the swarm.
- Disaster recovery: Backup-SwarmManager (encrypted archive), Restore-SwarmManager, Restore-SwarmQuorum after losing the majority of managers.
- Engine install: Install-SwarmEngine puts one Docker Engine version on fresh Debian/Ubuntu machines over SSH (APT proxy, distribution or Docker repository, daemon.json with log rotation, MTU and metrics address; idempotent, parallel, pipes into Join-SwarmNode); Test-SwarmNodeReadiness checks engine, vxlan, time, swarm ports between machines, path MTU and disk.
- Shipping: gallery package (build.ps1 -Task Package), complete help for every cmdlet and the topics about_SwarmAdmin, about_SwarmAdmin_Trust and about_SwarmAdmin_Quorum, a table view for every output type, argument completers for node, stack, service, secret, config and VM names (2-second budget), examples (scheduled health check with JSON/HTML/Prometheus output, label recipes, deploy from git, bootstrap), MIT license.
'@
        }
    }
}
