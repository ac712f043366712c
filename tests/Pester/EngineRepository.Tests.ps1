# Install-SwarmEngine -Source DockerRepository on a fresh Debian 12 node, from a signed APT repository in Docker's
# layout that the lab serves (`lab.sh docker-repo`: docker-ce, docker-ce-cli, containerd.io built from Debian's
# docker.io, signed with a key made by the lab, reached through the lab's apt-cacher-ng as a site's cache would reach
# download.docker.com). The node never joins a swarm: this file runs in the side lane beside the others.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:FQ = ',SwarmAdmin.Commands.InstallSwarmEngineCommand'
    $script:Repo = (Invoke-Lab docker-repo --state $LabStatePath | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }) -join "`n" | ConvertFrom-Json
    $Repo.Version | Should -Match '^5:\d+\.\d+\.\d+-1~debian\.12~bookworm$'
    $script:NodeName = 'swarmlab-f0'
    Invoke-Lab add-fresh-node $NodeName --address 10.213.57.90 --no-apt-proxy --state $LabStatePath | Out-Null
    # a second machine that says it is Debian 11 bullseye (its APT sources stay Debian 12's: only Docker's
    # repository is asked for its codename, and the lab repository has a bullseye build of the same engine)
    $script:OldName = 'swarmlab-f0b'
    Invoke-Lab add-fresh-node $OldName --address 10.213.57.89 --no-apt-proxy --state $LabStatePath | Out-Null
    Invoke-Lab exec $OldName -- sh -c 'sed -i -e "s/^VERSION_ID=.*/VERSION_ID=\"11\"/" -e "s/^VERSION_CODENAME=.*/VERSION_CODENAME=bullseye/" -e "s/bookworm/bullseye/; s/ 12 / 11 /" /etc/os-release' | Out-Null
    $script:Lab = Get-Content $LabStatePath -Raw | ConvertFrom-Json
    $script:Proxy = $Lab.AptProxy
    $script:Target = "root@10.213.57.90"
    $script:Ssh = @{ KeyFile = $Lab.KeyPath; KnownHostsPath = $Lab.KnownHostsPath }
    $script:Common = @{ Source = 'DockerRepository'; RepositoryUri = $Repo.Uri; AptProxy = $Proxy; DaemonConfig = @{ 'cgroup-parent' = '/swarmlab-fresh' } }
    function script:Invoke-Node([string]$Command) { (Invoke-Lab exec $NodeName -- sh -c $Command) -join "`n" }
    function script:Get-NodeState {
        Invoke-Node "dpkg-query -W -f='`${Package} `${db:Status-Abbrev} `${Version}\n' docker-ce docker-ce-cli containerd.io docker.io 2>/dev/null; ls -la --time-style=full-iso /etc/apt/sources.list.d /etc/apt/keyrings /etc/docker 2>&1; systemctl show -p MainPID -p ActiveState docker.service 2>&1; apt-mark showhold"
    }
}

AfterAll {
    foreach ($n in $NodeName, $OldName) { try { Invoke-Lab remove-node $n | Out-Null } catch { Write-Warning $_ } }
}

Describe 'Install-SwarmEngine -Source DockerRepository (a signed docker-ce repository served in the lab)' -Tag FreshNode {
    It '-WhatIf names the repository, its key and the docker-ce packages, and writes nothing' {
        $before = Get-NodeState
        $lists = Invoke-Node 'ls -la --time-style=full-iso /var/lib/apt/lists'
        # "What if:" lines go to the host, not to a stream: a transcript records them
        $log = Join-Path $TestDrive 'whatif.log'
        Start-Transcript -Path $log -Force | Out-Null
        try { Install-SwarmEngine -Node $Target @Ssh @Common -RepositoryKey $Repo.Key -WhatIf | Should -BeNullOrEmpty }
        finally { Stop-Transcript | Out-Null }
        $out = Get-Content $log -Raw
        $out | Should -Match ([regex]::Escape("$($Repo.Uri) bookworm stable"))
        $out | Should -Match 'swarmadmin-docker\.asc'
        $out | Should -Match 'docker-ce docker-ce-cli containerd\.io'
        Get-NodeState | Should -Be $before
        Invoke-Node 'ls -la --time-style=full-iso /var/lib/apt/lists' | Should -Be $lists
        Invoke-Node 'test -e /etc/apt/sources.list.d/swarmadmin-docker.sources && echo present || echo absent' | Should -Be 'absent'
    }

    It 'a repository whose signature the given key does not verify fails at AptUpdate, naming the node; nothing is installed' {
        $r = Install-SwarmEngine -Node $Target @Ssh @Common -RepositoryKey $Repo.OtherKey -ErrorVariable e -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $e.Count | Should -Be 1
        $e[0].FullyQualifiedErrorId | Should -Be "SwarmEngineInstallFailed$FQ"
        $e[0].Exception.Data['Step'] | Should -Be 'AptUpdate'
        $e[0].Exception.Message | Should -Match 'Step AptUpdate on root@10\.213\.57\.90 failed'
        $e[0].Exception.Message | Should -Match 'NO_PUBKEY|not signed|signature'
        Invoke-Node "dpkg-query -W -f='`${Package} `${db:Status-Abbrev}\n' docker-ce docker.io 2>/dev/null | grep -c '^[a-z.-]* [hi]i' || true" | Should -Be '0'
    }

    It 'installs docker-ce, docker-ce-cli and containerd.io at the repository''s version, held, with Signed-By; the engine answers' {
        $script:First = Install-SwarmEngine -Node $Target @Ssh @Common -RepositoryKey $Repo.Key
        $First | Should -BeOfType SwarmAdmin.SwarmEngineInstallation
        $First.Changed | Should -BeTrue
        $First.Source | Should -Be 'DockerRepository'
        $First.Version | Should -Be $Repo.Version
        $First.Actions | Should -Contain 'Repository'     # the key changed (the wrong one was written by the failed run)
        $First.Actions | Should -Contain 'Install'
        $state = Get-NodeState
        foreach ($p in 'docker-ce', 'docker-ce-cli') { $state | Should -Match "(?m)^$p hi +$([regex]::Escape($Repo.Version))$" }
        $state | Should -Match '(?m)^containerd\.io hi '
        $state | Should -Not -Match '(?m)^docker\.io [hi]i'
        $state | Should -Match 'ActiveState=active'
        $sources = Invoke-Node 'cat /etc/apt/sources.list.d/swarmadmin-docker.sources'
        $sources | Should -Match "(?m)^URIs: $([regex]::Escape($Repo.Uri))$"
        $sources | Should -Match '(?m)^Suites: bookworm$'
        $sources | Should -Match '(?m)^Signed-By: /etc/apt/keyrings/swarmadmin-docker\.asc$'
        # the key on the node is the repository's, byte for byte
        (Invoke-Node 'sha256sum /etc/apt/keyrings/swarmadmin-docker.asc').Split(' ')[0] | Should -Be (Get-FileHash $Repo.Key -Algorithm SHA256).Hash.ToLowerInvariant()
        (Invoke-Node "docker version --format '{{.Server.Version}}'").Trim() | Should -Be $First.EngineVersion
    }

    It 'changes nothing on a second run' {
        $before = Get-NodeState
        $again = Install-SwarmEngine -Node $Target @Ssh @Common -RepositoryKey $Repo.Key
        $again.Changed | Should -BeFalse
        $again.Actions.Count | Should -Be 0
        $again.Version | Should -Be $Repo.Version
        Get-NodeState | Should -Be $before
    }

    It 'a node of another release gets that release''s build of the same engine, and the installed node is left alone' {
        $before = Get-NodeState
        $out = @(Install-SwarmEngine -Node $Target, 'root@10.213.57.89' @Ssh @Common -RepositoryKey $Repo.Key -Verbose 3>&1 4>&1)
        $verbose = ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }) -join "`n"
        $warnings = @($out | Where-Object { $_ -is [System.Management.Automation.WarningRecord] })
        $r = @($out | Where-Object { $_ -is [SwarmAdmin.SwarmEngineInstallation] })
        $r.Count | Should -Be 2
        $r[0].Changed | Should -BeFalse
        $r[0].Version | Should -Be $Repo.Version
        $r[1].Changed | Should -BeTrue
        $r[1].OsVersion | Should -Be '11'
        $r[1].Version | Should -Be $Repo.BullseyeVersion
        $engine = [regex]::Match($Repo.Version, '^5:([0-9.]+)-').Groups[1].Value
        $verbose | Should -Match ([regex]::Escape("docker-ce $($Repo.BullseyeVersion): engine $engine as built for debian bullseye"))
        $warnings | Should -BeNullOrEmpty -Because 'another release''s build of the same engine is no version skew'
        Get-NodeState | Should -Be $before
        (Invoke-Lab exec $OldName -- sh -c "dpkg-query -W -f='`${db:Status-Abbrev} `${Version}' docker-ce") -join '' | Should -Be "hi  $($Repo.BullseyeVersion)"
        (Invoke-Lab exec $OldName -- sh -c 'grep ^Suites: /etc/apt/sources.list.d/swarmadmin-docker.sources') -join '' | Should -Be 'Suites: bullseye'
    }

    It 'refuses -Source Distribution on a node with Docker''s packages, and changes nothing' {
        $before = Get-NodeState
        $r = Install-SwarmEngine -Node $Target @Ssh -AptProxy $Proxy -ErrorVariable e -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $e.Count | Should -Be 1
        $e[0].FullyQualifiedErrorId | Should -Be "SwarmEngineSourceConflict$FQ"
        $e[0].Exception.Message | Should -Match 'docker-ce'
        Get-NodeState | Should -Be $before
    }
}
