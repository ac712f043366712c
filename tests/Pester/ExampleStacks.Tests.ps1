# examples/stacks run in the lab: deployed with the docker CLI inside a node (Deploy-SwarmStack is still to come),
# checked with SwarmAdmin: every service converges and lands where its placement says.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    $script:Mgmt = $Workers[-1].Name
    Set-SwarmNodeLabel -Name $Mgmt -Add @{ 'portainer.data' = 'true' } | Out-Null
    $env:DOCKER_HOST = $Lab.DockerHost
    try {
        & docker exec $M1 mkdir -p /tmp/examples | Out-Null
        foreach ($f in Get-ChildItem (Join-Path $RepoRoot 'examples/stacks') -Filter *.yml) {
            Get-Content $f.FullName -Raw | & docker exec -i $M1 sh -c "cat > /tmp/examples/$($f.Name)"
            $out = & docker exec -w /tmp/examples $M1 docker stack deploy --detach=true --resolve-image never -c $f.Name "ex$($f.BaseName)" 2>&1
            if ($LASTEXITCODE) { throw "docker stack deploy $($f.Name) failed: $out" }
        }
    }
    finally { Remove-Item Env:DOCKER_HOST -ErrorAction SilentlyContinue }
    $script:Joined = @($Managers) + @($Workers)
    $deadline = [DateTime]::UtcNow.AddSeconds(120)
    do { Start-Sleep 2; $pending = @(Get-SwarmService -Stack exportainer, exweb, exmonitoring, exinfra | Where-Object { $_.Running -lt $_.Desired -or $_.Desired -eq 0 }) }
    until ($pending.Count -eq 0 -or [DateTime]::UtcNow -gt $deadline)
}

AfterAll {
    Get-SwarmStack -Name 'ex*' | Remove-SwarmStack -Wait -Confirm:$false -ErrorAction SilentlyContinue
    Set-SwarmNodeLabel -Name $Mgmt -Remove 'portainer.data' | Out-Null
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'examples/stacks in the lab' {
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
