@{
    RootModule           = 'SwarmAdmin.psm1'
    ModuleVersion        = '0.1.0'
    CompatiblePSEditions = @('Core', 'Desktop')
    GUID                 = '6f1d3c2a-8b4e-4f57-9a0c-2d5e7b1c9f43'
    Author               = 'SwarmAdmin contributors'
    CompanyName          = 'SwarmAdmin'
    Copyright            = '(c) SwarmAdmin contributors. MIT License.'
    Description          = 'Build and run a Docker Swarm cluster on Proxmox VE from PowerShell: typed cmdlets over the Docker Engine API through SSH, with quorum-aware node operations.'
    PowerShellVersion    = '5.1'
    FormatsToProcess     = @('SwarmAdmin.Format.ps1xml', 'SwarmAdmin.Config.Format.ps1xml', 'SwarmAdmin.Secrets.Format.ps1xml', 'SwarmAdmin.Maintenance.Format.ps1xml', 'SwarmAdmin.Recovery.Format.ps1xml')
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
    )
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Docker', 'Swarm', 'Proxmox', 'SSH', 'Cluster', 'Linux', 'PSEdition_Core', 'PSEdition_Desktop')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ReleaseNotes = 'Foundation: Connect-SwarmCluster over SSH (dial-stdio) with known_hosts verification and manager fail-over, Get-SwarmNode.'
        }
    }
}
