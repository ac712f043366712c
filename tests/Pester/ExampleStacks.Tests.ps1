# examples/stacks run in the lab, deployed by examples/deploy-stacks.ps1 (Deploy-SwarmStack -Wait -RollbackOnFailure;
# tests/Pester/DeploySwarmStack.Tests.ps1 deploys them with the docker CLI too and compares the specs): every service
# converges and lands where its placement says, and a second deploy changes nothing.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:Mgmt = $Workers[-1].Name
    $script:Joined = @($Managers) + @($Workers)
    $script:DeployStacks = Join-Path $RepoRoot 'examples/deploy-stacks.ps1'
    # the script labels the management worker portainer.data=true (-PortainerNode) and deploys the stacks as ex<name>
    $script:Results = & $DeployStacks -NamePrefix ex -PortainerNode $Mgmt -ResolveImage Never -TimeoutSec 180
}

AfterAll {
    Get-SwarmStack -Name 'ex*' | Remove-SwarmStack -Wait -Confirm:$false -ErrorAction SilentlyContinue
    Set-SwarmNodeLabel -Name $Mgmt -Remove 'portainer.data' | Out-Null
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'examples/stacks in the lab' {
    It 'deploy-stacks.ps1 deploys every example stack and reports it converged' {
        $Results | Should -HaveCount 4
        ($Results.Stack | Sort-Object) | Should -Be (Get-ChildItem (Join-Path $RepoRoot 'examples/stacks') -Filter *.yml | ForEach-Object { "ex$($_.BaseName)" } | Sort-Object)
        (Get-SwarmNode -Label portainer.data=true).Hostname | Should -Be $Mgmt
        $Results | ForEach-Object { $_.Converged | Should -BeTrue -Because "stack $($_.Stack) should converge" }
        $Results.Services | ForEach-Object { $_.State | Should -Be 'Converged'; $_.Running | Should -Be $_.Desired }
    }

    It 'a second deploy of every example sends nothing' {
        foreach ($f in Get-ChildItem (Join-Path $RepoRoot 'examples/stacks') -Filter *.yml) {
            $r = Deploy-SwarmStack -Name "ex$($f.BaseName)" -Path $f.FullName -ResolveImage Never
            $r.Services | Where-Object Action -ne 'Unchanged' | ForEach-Object { "$($_.Name): $($_.Changes -join '; ')" } | Should -BeNullOrEmpty
        }
    }

    It 'every service of every example converges' {
        $services = Get-SwarmService -Stack exportainer, exweb, exmonitoring, exinfra
        $services.Count | Should -Be 5
        $services | ForEach-Object { $_.Running | Should -Be $_.Desired -Because "$($_.Name) should run all its tasks" }
    }

    It 'pins Portainer to the node labelled portainer.data=true and runs the agent everywhere' {
        (Get-SwarmTask -Service exportainer_portainer -DesiredState running).Node | Should -Be $Mgmt
        (Get-SwarmTask -Service exportainer_agent -DesiredState running).Node | Sort-Object | Should -Be ($Joined.Name | Sort-Object)
    }

    It 'spreads the web app over the managers, one per node' {
        (Get-SwarmTask -Service exweb_app -DesiredState running).Node | Sort-Object | Should -Be ($Managers.Name | Sort-Object)
    }

    It 'keeps the infra service on workers and monitoring on every node' {
        (Get-SwarmTask -Service exinfra_storage -DesiredState running).Node | ForEach-Object { $_ | Should -BeIn $Workers.Name }
        (Get-SwarmTask -Service exmonitoring_node-exporter -DesiredState running).Node | Sort-Object | Should -Be ($Joined.Name | Sort-Object)
    }
}
