# examples/stacks run in the lab, deployed by examples/deploy-stacks.ps1 (Deploy-SwarmStack -Wait -RollbackOnFailure;
# tests/Pester/DeploySwarmStack.Tests.ps1 deploys them with the docker CLI too and compares the specs): every service
# converges and lands where its placement says, and a second deploy changes nothing.
# The lab is shared: the stacks carry this run's own prefix (ex<id>), AfterAll removes exactly those, and the
# portainer.data label is removed only when this run added it. Other runs may label other nodes or join nodes while this
# one runs, so node assertions are about containment (the lab's nodes are among them), not equality.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:Mgmt = $Workers[-1].Name
    $script:Joined = @($Managers) + @($Workers)
    $script:DeployStacks = Join-Path $RepoRoot 'examples/deploy-stacks.ps1'
    $script:Prefix = "ex$([guid]::NewGuid().ToString('N').Substring(0, 6))"
    $script:ExampleFiles = @(Get-ChildItem (Join-Path $RepoRoot 'examples/stacks') -Filter *.yml | Sort-Object Name)
    $script:OurStacks = @($ExampleFiles | ForEach-Object { "$Prefix$($_.BaseName)" })
    # did the node carry the label before this run? (then it is not this run's to remove)
    $script:HadPortainerLabel = (Get-SwarmNode -Name $Mgmt).Labels.ContainsKey('portainer.data')
    # the script labels the management worker portainer.data=true (-PortainerNode) and deploys the stacks as <prefix><name>
    $script:Results = & $DeployStacks -NamePrefix $Prefix -PortainerNode $Mgmt -ResolveImage Never -TimeoutSec 180
    $script:DeployExitCode = $LASTEXITCODE
    function Get-RunningNode([string]$Service) { @(Get-SwarmTask -Service $Service -DesiredState running | Where-Object CurrentState -eq 'running' | ForEach-Object Node) }
}

AfterAll {
    # exactly this run's stacks (never a pattern: other runs' stacks share the ex prefix)
    Remove-SwarmStack -Name $OurStacks -Wait -Confirm:$false -ErrorAction SilentlyContinue
    if (-not $HadPortainerLabel) { Set-SwarmNodeLabel -Name $Mgmt -Remove 'portainer.data' | Out-Null }
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'examples/stacks in the lab' {
    It 'deploy-stacks.ps1 deploys every example stack and reports it converged' {
        $Results | Should -HaveCount $ExampleFiles.Count
        ($Results.Stack | Sort-Object) | Should -Be ($OurStacks | Sort-Object)
        (Get-SwarmNode -Label portainer.data=true).Hostname | Should -Contain $Mgmt
        $Results | ForEach-Object { $_.Converged | Should -BeTrue -Because "stack $($_.Stack) should converge" }
        $Results.Services | ForEach-Object { $_.State | Should -Be 'Converged'; $_.Running | Should -Be $_.Desired }
    }

    It 'a second deploy of every example sends nothing' {
        foreach ($f in $ExampleFiles) {
            $r = Deploy-SwarmStack -Name "$Prefix$($f.BaseName)" -Path $f.FullName -ResolveImage Never
            $r.Services | Where-Object Action -ne 'Unchanged' | ForEach-Object { "$($_.Name): $($_.Changes -join '; ')" } | Should -BeNullOrEmpty
        }
    }

    It 'every service of every example converges' {
        $services = Get-SwarmService -Stack $OurStacks
        $services.Count | Should -Be 5
        $services | ForEach-Object { $_.Running | Should -Be $_.Desired -Because "$($_.Name) should run all its tasks" }
    }

    It 'pins Portainer to a node labelled portainer.data=true and runs the agent on every lab node' {
        $labelled = @((Get-SwarmNode -Label portainer.data=true).Hostname)
        $labelled | Should -Contain $Mgmt
        $portainer = @(Get-RunningNode "${Prefix}portainer_portainer")
        $portainer | Should -HaveCount 1
        $portainer[0] | Should -BeIn $labelled
        $agent = @(Get-RunningNode "${Prefix}portainer_agent")
        foreach ($n in $Joined.Name) { $agent | Should -Contain $n }
        $agent | Select-Object -Unique | Should -HaveCount $agent.Count -Because 'a global service runs one task per node'
    }

    It 'spreads the web app over the managers, one per node' {
        $managers = @((Get-SwarmNode -Role Manager).Hostname)
        $web = @(Get-RunningNode "${Prefix}web_app")
        $web | Should -HaveCount 3
        $web | Select-Object -Unique | Should -HaveCount 3
        $web | ForEach-Object { $_ | Should -BeIn $managers }
    }

    It 'keeps the infra service on workers and monitoring on every node' {
        $workers = @((Get-SwarmNode -Role Worker).Hostname)
        Get-RunningNode "${Prefix}infra_storage" | ForEach-Object { $_ | Should -BeIn $workers }
        $exporter = @(Get-RunningNode "${Prefix}monitoring_node-exporter")
        foreach ($n in $Joined.Name) { $exporter | Should -Contain $n }
    }
}

Describe 'examples/deploy-stacks.ps1 with a stack that fails' {
    BeforeAll { $script:FailPrefix = "${Prefix}f" }
    AfterAll { Remove-SwarmStack -Name "${FailPrefix}monitoring" -Wait -Confirm:$false -ErrorAction SilentlyContinue }

    It 'passes -WhatIf through: nothing is deployed, and the failing stack still makes it exit 1' {
        $global:LASTEXITCODE = 0
        & $DeployStacks -Stack nosuchstack, web -NamePrefix $FailPrefix -ResolveImage Never -WhatIf -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue 6>$null | Out-Null
        $LASTEXITCODE | Should -Be 1
        @($errs).Count | Should -BeGreaterThan 0
        "$warns" | Should -Match "${FailPrefix}nosuchstack"
        "$warns" | Should -Not -Match "${FailPrefix}web"
        Get-SwarmService -Stack "${FailPrefix}web" -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'deploys the stacks after the one that fails, then exits 1' {
        $global:LASTEXITCODE = 0
        $r = & $DeployStacks -Stack nosuchstack, monitoring -NamePrefix $FailPrefix -ResolveImage Never -TimeoutSec 180 -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
        $LASTEXITCODE | Should -Be 1
        @($errs).Count | Should -BeGreaterThan 0
        "$warns" | Should -Match "${FailPrefix}nosuchstack"
        $r.Stack | Should -Be "${FailPrefix}monitoring"
        $r.Converged | Should -BeTrue
        (Get-SwarmService -Stack "${FailPrefix}monitoring").Name | Should -Be "${FailPrefix}monitoring_node-exporter"
    }
}
