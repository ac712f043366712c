# The user-facing scripts of examples/ run against the lab: the scheduled health check (in a child pwsh, so its exit
# code is the process's), the label recipes and the deployment from a git checkout. Everything they create carries a
# unique name or label prefix and is removed in AfterAll; the health check changes nothing.
# The last Describe checks that every examples/*.ps1 is run by some test file.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:Id = [guid]::NewGuid().ToString('N').Substring(0, 6)
    $script:Work = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-examples-$Id"
    New-Item -ItemType Directory -Force $Work | Out-Null
    $script:M1 = $Managers[0].Name
    $script:LabNodeNames = @($Managers.Name) + @($Workers.Name)

    # Parses the Prometheus text exposition format as strictly as node_exporter's textfile collector reads it: returns
    # @{ Help = @{name=text}; Type = @{name=type}; Samples = list of @{ Name; Labels = @{}; Value }; Order }. Throws on
    # a line that is neither a comment nor a valid sample, a text that does not end with "\n", a second HELP or TYPE
    # line of a family, a family's sample before its HELP and TYPE lines or apart from the family's other lines, a label
    # given twice in one sample, and a second sample with the same name and labels (each of which makes the collector
    # reject the whole file).
    function ConvertFrom-PromText([string]$Text) {
        if (-not $Text.EndsWith("`n")) { throw 'The text does not end with a line feed.' }
        $help = @{}; $type = @{}; $samples = [Collections.Generic.List[object]]::new()
        $order = [Collections.Generic.List[string]]::new()
        $series = [Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)
        $closed = [Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)   # families whose lines are over
        $current = $null
        $enter = {
            # dot-sourced: runs in this function's scope, so it moves $current on
            param($family)
            if ($family -ne $current) {
                if ($closed.Contains($family)) { throw "Lines of $family apart from the family's other lines" }
                if ($current) { [void]$closed.Add($current) }
                $current = $family
            }
        }
        foreach ($line in $Text.Substring(0, $Text.Length - 1) -split "`n") {
            if ($line -eq '') { throw 'An empty line.' }
            if ($line -match '^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$') {
                $n = $Matches[1]; $t = $Matches[2]
                if ($help.ContainsKey($n)) { throw "A second HELP line for $n" }
                . $enter $n; $help[$n] = $t; $order.Add("HELP $n"); continue
            }
            if ($line -match '^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$') {
                $n = $Matches[1]; $t = $Matches[2]
                if ($type.ContainsKey($n)) { throw "A second TYPE line for $n" }
                . $enter $n; $type[$n] = $t; $order.Add("TYPE $n"); continue
            }
            if ($line -match '^#') { continue }
            if ($line -notmatch '^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( -?\d+)?$') { throw "Not an exposition-format sample line: $line" }
            $name = $Matches[1]; $labelText = $Matches[3]; $valueText = $Matches[4]
            $labels = @{}
            if ($labelText) {
                $rest = $labelText
                while ($rest) {
                    if ($rest -notmatch '^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)') { throw "Bad labels in: $line" }
                    if ($labels.ContainsKey($Matches[1])) { throw "Label $($Matches[1]) twice in: $line" }
                    $labels[$Matches[1]] = $Matches[2] -replace '\\n', "`n" -replace '\\"', '"' -replace '\\\\', '\'
                    $rest = $rest.Substring($Matches[0].Length)
                }
            }
            $value = 0.0
            if (-not [double]::TryParse($valueText, [Globalization.NumberStyles]::Float, [Globalization.CultureInfo]::InvariantCulture, [ref]$value) -and $valueText -notin 'NaN', '+Inf', '-Inf') {
                throw "Bad value in: $line"
            }
            if (-not $help.ContainsKey($name) -or -not $type.ContainsKey($name)) { throw "Sample of $name before its HELP and TYPE lines" }
            . $enter $name
            $key = "$name{" + (($labels.Keys | Sort-Object { $_ } -CaseSensitive | ForEach-Object { "$_=$($labels[$_])" }) -join "`u{1}") + '}'
            if (-not $series.Add($key)) { throw "A second sample of $name with the same labels: $line" }
            $samples.Add([pscustomobject]@{ Name = $name; Labels = $labels; Value = $value })
        }
        [pscustomobject]@{ Help = $help; Type = $type; Samples = $samples; Order = $order }
    }

    function Get-PromValue($Prom, [string]$Name, [hashtable]$Labels = @{}) {
        $hit = @($Prom.Samples | Where-Object { $_.Name -eq $Name } | Where-Object {
                $s = $_; -not ($Labels.Keys | Where-Object { $s.Labels[$_] -ne $Labels[$_] }) })
        if ($hit.Count -ne 1) { throw "$($hit.Count) samples of $Name $(($Labels.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join ',')" }
        $hit[0].Value
    }

    # A small stack: lab/busybox:1 sleeping, dnsrr (the lab has no IPVS).
    function New-SleepStackFile([string]$Path, [string]$Command = 'sleep 3600', [int]$Replicas = 1) {
        New-Item -ItemType Directory -Force (Split-Path $Path) | Out-Null
        Set-Content -LiteralPath $Path -Value @"
version: "3.8"
services:
  app:
    image: lab/busybox:1
    command: $Command
    stop_grace_period: 1s
    deploy:
      replicas: $Replicas
      endpoint_mode: dnsrr
"@
    }

    # What the docker CLI says (independent of SwarmAdmin).
    function Get-ServiceVersion([string]$Service) { [long](Invoke-LabDocker $M1 @('service', 'inspect', $Service, '--format', '{{.Version.Index}}')) }
}

AfterAll {
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
    Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

Describe 'examples/health-check.ps1' {
    BeforeAll {
        $script:HealthCheck = Join-Path $RepoRoot 'examples/health-check.ps1'
        $script:HcStack = "exhc$Id"
        New-SleepStackFile (Join-Path $Work 'hc/stack.yml')
        Deploy-SwarmStack -Name $HcStack -Path (Join-Path $Work 'hc/stack.yml') -ResolveImage Never -Wait -TimeoutSec 120 | Out-Null
        $script:Endpoints = @($Managers | ForEach-Object { Get-LabEndpoint $_.Name })
        # runs the script in its own pwsh process: the exit code is the process's
        function Invoke-HealthCheck([string[]]$Arguments) {
            Push-Location $RepoRoot   # dotnet pwsh needs the tool manifest of the repository
            try { $out = & dotnet pwsh -NoProfile -NonInteractive -File $HealthCheck -ModulePath $ModulePath @Arguments 2>&1 }
            finally { Pop-Location }
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out | ForEach-Object { "$_" }) -join "`n" }
        }
    }
    AfterAll {
        Remove-SwarmStack -Name $HcStack -Wait -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'writes health.json, health.html and the .prom file and exits 0 on the lab; it changes nothing' {
        $out = Join-Path $Work 'hc/ok'
        $prom = Join-Path $out 'textfile/swarm.prom'
        $serviceVersion = Get-ServiceVersion "${HcStack}_app"
        $run = Invoke-HealthCheck @('-Endpoint', ($Endpoints -join ','), '-KeyFile', $Lab.KeyPath, '-KnownHostsPath', $Lab.KnownHostsPath,
            '-OutputDirectory', $out, '-PrometheusPath', $prom, '-Stack', $HcStack, '-TimeoutSec', '20')
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Output | Should -Match 'Swarm health: (Healthy|Degraded)'

        $json = Get-Content (Join-Path $out 'health.json') -Raw | ConvertFrom-Json
        $json.Status | Should -BeIn 'Healthy', 'Degraded'
        $json.Quorum.Status | Should -BeIn 'Healthy', 'Degraded'
        $json.Quorum.HasQuorum | Should -BeTrue
        # other tests may join nodes (the spare, fresh nodes) while this runs: the lab's nodes are among them
        $json.Quorum.Managers | Should -BeGreaterOrEqual $Managers.Count
        $json.Quorum.Managers | Should -Be @($json.Quorum.ManagerNames).Count
        foreach ($m in $Managers.Name) { $json.Quorum.ManagerNames | Should -Contain $m }
        foreach ($n in $LabNodeNames) { $json.Nodes.Hostname | Should -Contain $n }
        $svc = $json.Services | Where-Object Name -eq "${HcStack}_app"
        $svc.Running | Should -Be 1
        $svc.Desired | Should -Be 1
        $svc.Converged | Should -BeTrue
        ($json.Stacks | Where-Object Name -eq $HcStack).Converged | Should -BeTrue
        $json.Findings | Where-Object Source -eq 'stacks' | Should -BeNullOrEmpty

        $html = Get-Content (Join-Path $out 'health.html') -Raw
        $html | Should -Match '<table>'
        $html | Should -Match "<span class=`"status`">$($json.Status)</span>"
        foreach ($m in $Managers.Name) { $html | Should -Match "<td>$m</td>" }
        $html | Should -Match "<td>${HcStack}_app</td>"

        $p = ConvertFrom-PromText (Get-Content $prom -Raw)
        foreach ($name in $p.Samples.Name | Select-Object -Unique) {
            $p.Help[$name] | Should -Not -BeNullOrEmpty -Because "$name needs a HELP line"
            $p.Type[$name] | Should -Be 'gauge'
        }
        Get-PromValue $p 'swarmadmin_healthcheck_success' | Should -Be 1
        Get-PromValue $p 'swarmadmin_managers_total' | Should -Be $Managers.Count
        Get-PromValue $p 'swarmadmin_managers_reachable' | Should -Be $json.Quorum.Reachable
        Get-PromValue $p 'swarmadmin_quorum_fault_tolerance' | Should -Be $json.Quorum.FaultTolerance
        Get-PromValue $p 'swarmadmin_quorum_status' | Should -Be (@{ Healthy = 0; Degraded = 1 }[$json.Quorum.Status])
        Get-PromValue $p 'swarmadmin_service_replicas_running' @{ stack = $HcStack; service = "${HcStack}_app" } | Should -Be 1
        Get-PromValue $p 'swarmadmin_service_replicas_desired' @{ stack = $HcStack; service = "${HcStack}_app" } | Should -Be 1
        # one series per manager node, labelled with its hostname and node id
        foreach ($m in @($json.Nodes | Where-Object Role -eq 'Manager')) {
            $m.Id | Should -Not -BeNullOrEmpty
            Get-PromValue $p 'swarmadmin_manager_reachable' @{ node = $m.Hostname; node_id = $m.Id } | Should -BeIn 0, 1
        }
        foreach ($m in $Managers.Name) { @($p.Samples | Where-Object { $_.Name -eq 'swarmadmin_manager_reachable' -and $_.Labels.node -eq $m }).Count | Should -BeGreaterOrEqual 1 }
        (@($p.Samples | Where-Object Name -eq 'swarmadmin_nodes') | Measure-Object Value -Sum).Sum | Should -Be @($json.Nodes).Count
        $age = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds() - (Get-PromValue $p 'swarmadmin_healthcheck_last_run_timestamp_seconds')
        $age | Should -BeLessThan 120
        # only the final files: no temporary file left beside them
        (Get-ChildItem (Split-Path $prom) -Force).Name | Should -Be 'swarm.prom'
        (Get-ChildItem $out -Force -File).Name | Sort-Object | Should -Be @('health.html', 'health.json')

        Get-ServiceVersion "${HcStack}_app" | Should -Be $serviceVersion -Because 'the health check only reads'
    }

    It 'reports a missing stack as Degraded and still exits 0' {
        $out = Join-Path $Work 'hc/degraded'
        $run = Invoke-HealthCheck @('-Endpoint', ($Endpoints -join ','), '-KeyFile', $Lab.KeyPath, '-KnownHostsPath', $Lab.KnownHostsPath,
            '-OutputDirectory', $out, '-Stack', "$HcStack,${HcStack}none")
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $json = Get-Content (Join-Path $out 'health.json') -Raw | ConvertFrom-Json
        $json.Status | Should -Be 'Degraded'
        ($json.Findings | Where-Object Id -eq 'STACK-MISSING').Target | Should -Be "${HcStack}none"
        Get-Content (Join-Path $out 'health.html') -Raw | Should -Match 'STACK-MISSING'
    }

    It 'writes the .prom file even when health.json and health.html cannot be written, and exits 2' {
        # the output folder would be below a file: neither JSON nor HTML can be written
        $blocker = Join-Path $Work 'hc/blocker'
        New-Item -ItemType Directory -Force (Split-Path $blocker) | Out-Null
        Set-Content -LiteralPath $blocker -Value 'a file, not a folder'
        $prom = Join-Path $Work 'hc/unwritable/swarm.prom'
        $run = Invoke-HealthCheck @('-Endpoint', ($Endpoints -join ','), '-KeyFile', $Lab.KeyPath, '-KnownHostsPath', $Lab.KnownHostsPath,
            '-OutputDirectory', (Join-Path $blocker 'out'), '-PrometheusPath', $prom, '-Stack', $HcStack, '-TimeoutSec', '20')
        $run.ExitCode | Should -Be 2 -Because $run.Output
        $run.Output | Should -Match 'Swarm health: (Healthy|Degraded)'
        $run.Output | Should -Match 'Could not write the JSON report'
        $run.Output | Should -Match 'Could not write the HTML page'
        $p = ConvertFrom-PromText (Get-Content $prom -Raw)
        Get-PromValue $p 'swarmadmin_healthcheck_success' | Should -Be 1
        (Get-ChildItem (Split-Path $prom) -Force).Name | Should -Be 'swarm.prom'
    }

    It 'exits 1 and writes swarmadmin_healthcheck_success 0 when no manager answers' {
        # a local port nobody listens on: the connection is refused at once, and no lab node is touched
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
        $out = Join-Path $Work 'hc/critical'
        $prom = Join-Path $out 'swarm.prom'
        New-Item -ItemType Directory -Force $out | Out-Null
        Set-Content -LiteralPath $prom -Value 'swarmadmin_healthcheck_success 1'   # the last run's file is replaced
        $run = Invoke-HealthCheck @('-Endpoint', "ssh://root@127.0.0.1:$port", '-KeyFile', $Lab.KeyPath, '-KnownHostsPath', $Lab.KnownHostsPath,
            '-OutputDirectory', $out, '-PrometheusPath', $prom, '-TimeoutSec', '5')
        $run.ExitCode | Should -Be 1 -Because $run.Output
        $run.Output | Should -Match 'Swarm health: Critical'
        $p = ConvertFrom-PromText (Get-Content $prom -Raw)
        Get-PromValue $p 'swarmadmin_healthcheck_success' | Should -Be 0
        Get-PromValue $p 'swarmadmin_health_status' | Should -Be 2
        $json = Get-Content (Join-Path $out 'health.json') -Raw | ConvertFrom-Json
        $json.Status | Should -Be 'Critical'
        $json.Quorum | Should -BeNullOrEmpty
        $json.Findings[0].Id | Should -Be 'SWARM-UNREACHABLE'
        Get-Content (Join-Path $out 'health.html') -Raw | Should -Match 'Critical'
    }
}

Describe 'examples/health-check.ps1: the Prometheus writer (ConvertTo-HealthPrometheusText) on crafted reports' {
    BeforeAll {
        # the function, taken out of the script (running the script would run a check)
        $ast = [System.Management.Automation.Language.Parser]::ParseFile((Join-Path $RepoRoot 'examples/health-check.ps1'), [ref]$null, [ref]$null)
        $fn = $ast.Find({ param($a) $a -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $a.Name -eq 'ConvertTo-HealthPrometheusText' }, $true)
        $fn | Should -Not -BeNullOrEmpty
        . ([scriptblock]::Create($fn.Extent.Text))
        function New-Report([object[]]$ManagerNodes, [object[]]$Nodes = @(), [object[]]$Services = @()) {
            [pscustomobject]@{
                Status = 'Degraded'; CheckedAt = '2026-11-27T21:00:00.0000000Z'; DurationSeconds = 1.25; Reached = $true
                Quorum = [pscustomobject]@{ Status = 'Degraded'; HasQuorum = $true; Managers = @($ManagerNodes).Count; Reachable = @($ManagerNodes | Where-Object Reachable).Count
                    FaultTolerance = 1; RemainingTolerance = 0; ManagerNodes = $ManagerNodes }
                Findings = @([pscustomobject]@{ Source = 'quorum'; Severity = 'Warning' }); Nodes = $Nodes; Services = $Services
            }
        }
    }

    It 'gives a replaced manager that kept its hostname its own series (node_id), and the file stays valid' {
        $managers = @(
            [pscustomobject]@{ Hostname = 'm1'; Id = 'oldid1'; Reachable = $false }   # the old entry the replacement left
            [pscustomobject]@{ Hostname = 'm1'; Id = 'newid1'; Reachable = $true }
            [pscustomobject]@{ Hostname = 'm2'; Id = 'id2'; Reachable = $true }
            [pscustomobject]@{ Hostname = 'm3'; Id = 'id3'; Reachable = $true })
        $nodes = @($managers | ForEach-Object { [pscustomobject]@{ Hostname = $_.Hostname; Id = $_.Id; Role = 'Manager'; State = $(if ($_.Reachable) { 'ready' } else { 'down' }); Availability = 'Active' } })
        $text = ConvertTo-HealthPrometheusText (New-Report $managers $nodes)
        $p = ConvertFrom-PromText $text
        Get-PromValue $p 'swarmadmin_manager_reachable' @{ node = 'm1'; node_id = 'oldid1' } | Should -Be 0
        Get-PromValue $p 'swarmadmin_manager_reachable' @{ node = 'm1'; node_id = 'newid1' } | Should -Be 1
        @($p.Samples | Where-Object Name -eq 'swarmadmin_manager_reachable').Count | Should -Be 4
        Get-PromValue $p 'swarmadmin_nodes' @{ role = 'manager'; status = 'down'; availability = 'active' } | Should -Be 1
        Get-PromValue $p 'swarmadmin_nodes' @{ role = 'manager'; status = 'ready'; availability = 'active' } | Should -Be 3
        Get-PromValue $p 'swarmadmin_quorum_findings' @{ severity = 'Warning' } | Should -Be 1
    }

    It 'without node ids (no leader), the managers of one hostname share one series that is 0 unless all are reachable' {
        $managers = @(
            [pscustomobject]@{ Hostname = 'm1'; Id = $null; Reachable = $false }
            [pscustomobject]@{ Hostname = 'm1'; Id = $null; Reachable = $true }
            [pscustomobject]@{ Hostname = 'm2'; Id = $null; Reachable = $true })
        $p = ConvertFrom-PromText (ConvertTo-HealthPrometheusText (New-Report $managers))
        Get-PromValue $p 'swarmadmin_manager_reachable' @{ node = 'm1' } | Should -Be 0
        Get-PromValue $p 'swarmadmin_manager_reachable' @{ node = 'm2' } | Should -Be 1
    }

    It 'never writes one series twice, even from a report with a repeated service' {
        $svc = [pscustomobject]@{ Stack = 's'; Name = 's_app'; Running = 1; Desired = 1; Converged = $true }
        $text = ConvertTo-HealthPrometheusText (New-Report @() -Services @($svc, $svc)) -WarningVariable w -WarningAction SilentlyContinue
        $p = ConvertFrom-PromText $text
        Get-PromValue $p 'swarmadmin_service_replicas_running' @{ stack = 's'; service = 's_app' } | Should -Be 1
        "$w" | Should -Match 'appears twice'
    }

    It 'the test''s parser rejects what node_exporter rejects' {
        $ok = "# HELP a A.`n# TYPE a gauge`na{x=`"1`"} 1`n"
        { ConvertFrom-PromText $ok } | Should -Not -Throw
        { ConvertFrom-PromText $ok.TrimEnd("`n") } | Should -Throw '*line feed*'
        { ConvertFrom-PromText ($ok + "a{x=`"1`"} 2`n") } | Should -Throw '*same labels*'
        { ConvertFrom-PromText ($ok + "# HELP a A.`n") } | Should -Throw '*second HELP*'
        { ConvertFrom-PromText ($ok + "# TYPE a gauge`n") } | Should -Throw '*second TYPE*'
        { ConvertFrom-PromText "b 1`n# HELP b B.`n# TYPE b gauge`n" } | Should -Throw '*before its HELP and TYPE*'
        { ConvertFrom-PromText ($ok + "# HELP b B.`n# TYPE b gauge`nb 1`na{x=`"2`"} 1`n") } | Should -Throw '*apart from*'
    }
}

Describe 'examples/label-recipes.ps1' {
    BeforeAll {
        $script:LabelRecipes = Join-Path $RepoRoot 'examples/label-recipes.ps1'
        $script:Prefix = "exl$Id."
        $script:W1 = $Workers[0].Name
        $script:W2 = $Workers[-1].Name
        # the test's own cluster file: the lab's nodes on three (fictitious) Proxmox hosts
        $hosts = @{}
        $i = 0
        foreach ($n in @($Managers) + @($Workers)) { $hosts[$n.Name] = "lab-pve$($i % 3 + 1)"; $i++ }
        $script:PveOf = $hosts
        $nodeYaml = foreach ($n in @($Managers) + @($Workers)) {
            $extra = if ($n.Name -eq $W2) { "`n    labels:`n      portainer.data: `"true`"" } elseif ($n.Name -eq $W1) { "`n    labels:`n      storage: ssd" } else { '' }
            "  - name: $($n.Name)`n    ip: $($n.Address)`n    proxmoxHost: $($hosts[$n.Name])`n    role: $($n.Role)$extra"
        }
        $script:ConfigPath = Join-Path $Work 'labels/cluster.yml'
        New-Item -ItemType Directory -Force (Split-Path $ConfigPath) | Out-Null
        Set-Content -LiteralPath $ConfigPath -Value @"
name: examples-test
proxmox:
  hosts:
    - { name: lab-pve1, role: primary }
    - { name: lab-pve2 }
    - { name: lab-pve3 }
networks:
  - { name: lab, subnet: $($Lab.Subnet) }
ssh: { user: root, keyFile: $($Lab.KeyPath), knownHostsPath: $($Lab.KnownHostsPath) }
defaults: { network: lab, cores: 1, memory: 1GB, bootDisk: 10GB }
nodes:
$($nodeYaml -join "`n")
"@
        # The labels with our prefix on every lab node, by the docker CLI: "host: k=v, k=v" lines.
        function Get-OurLabels {
            $lines = Invoke-LabDocker $M1 (@('node', 'inspect') + $LabNodeNames + @('--format', '{{.Description.Hostname}} {{json .Spec.Labels}}'))
            $result = [ordered]@{}
            foreach ($line in $lines | Sort-Object) {
                $nodeName, $labelJson = "$line" -split ' ', 2
                $labels = $labelJson | ConvertFrom-Json -AsHashtable
                $result[$nodeName] = @($labels.Keys | Where-Object { $_.StartsWith($Prefix) } | Sort-Object | ForEach-Object { "$($_.Substring($Prefix.Length))=$($labels[$_])" }) -join ', '
            }
            $result
        }
        function Format-Labels($Map) { ($Map.GetEnumerator() | ForEach-Object { "$($_.Key): $($_.Value)" }) -join "`n" }
        $script:AllRecipes = @('FromClusterFile', 'ByRole', 'FailureDomain', 'PortainerData', 'RemoveLabel', 'ShowByLabel')
    }
    AfterAll {
        # whatever a failed test left behind
        foreach ($n in Get-SwarmNode) {
            $ours = @($n.Labels.Keys | Where-Object { $_.StartsWith($Prefix) })
            if ($ours) { Set-SwarmNodeLabel -Name $n.Hostname -Remove $ours | Out-Null }
        }
    }

    It '-WhatIf of every recipe changes nothing' {
        $before = Format-Labels (Get-OurLabels)
        & $LabelRecipes -Recipe $AllRecipes -ConfigPath $ConfigPath -Prefix $Prefix -PortainerNode $W1 -Key portainer.data, storage -WhatIf 6>$null | Out-Null
        Format-Labels (Get-OurLabels) | Should -Be $before
        $before | Should -Not -Match '='
    }

    It 'FromClusterFile sets the labels the file declares, proxmox.host included' {
        $r = & $LabelRecipes -Recipe FromClusterFile -ConfigPath $ConfigPath -Prefix $Prefix
        @($r).Count | Should -Be $LabNodeNames.Count
        $now = Get-OurLabels
        foreach ($n in $LabNodeNames) {
            $expected = @("proxmox.host=$($PveOf[$n])")
            if ($n -eq $W1) { $expected += 'storage=ssd' }
            if ($n -eq $W2) { $expected = @('portainer.data=true') + $expected }
            $now[$n] | Should -Be (($expected | Sort-Object) -join ', ') -Because "$n declares these"
        }
    }

    It 'ByRole labels every worker and no manager' {
        & $LabelRecipes -Recipe ByRole -Role Worker -RoleLabel @{ tier = 'infra' } -Prefix $Prefix | Out-Null
        $now = Get-OurLabels
        foreach ($w in $Workers.Name) { $now[$w] | Should -Match '(^|, )tier=infra(,|$)' }
        foreach ($m in $Managers.Name) { $now[$m] | Should -Not -Match 'tier=' }
    }

    It 'FailureDomain labels every node with its Proxmox host under the given key' {
        & $LabelRecipes -Recipe FailureDomain -ConfigPath $ConfigPath -FailureDomainLabel pve.host -Prefix $Prefix | Out-Null
        $now = Get-OurLabels
        foreach ($n in $LabNodeNames) { $now[$n] | Should -Match "(^|, )pve\.host=$($PveOf[$n])(,|$)" }
    }

    It 'PortainerData moves portainer.data=true to exactly one node' {
        & $LabelRecipes -Recipe PortainerData -PortainerNode $W1 -Prefix $Prefix | Out-Null
        $now = Get-OurLabels
        $now[$W1] | Should -Match 'portainer\.data=true'
        @($now.Values | Where-Object { $_ -match 'portainer\.data=' }).Count | Should -Be 1
        # without -PortainerNode: the node the cluster file labels portainer.data=true
        & $LabelRecipes -Recipe PortainerData -ConfigPath $ConfigPath -Prefix $Prefix | Out-Null
        $now = Get-OurLabels
        $now[$W2] | Should -Match 'portainer\.data=true'
        $now[$W1] | Should -Not -Match 'portainer\.data'
    }

    It 'ShowByLabel lists the nodes that carry a label (key, or key=value)' {
        (& $LabelRecipes -Recipe ShowByLabel -Label portainer.data -Prefix $Prefix).Hostname | Should -Be $W2
        # ByRole labelled every worker of the swarm: the lab's workers, and any node another test joined meanwhile
        $tiered = @((& $LabelRecipes -Recipe ShowByLabel -Label 'tier=infra' -Prefix $Prefix).Hostname)
        foreach ($w in $Workers.Name) { $tiered | Should -Contain $w }
        foreach ($m in $Managers.Name) { $tiered | Should -Not -Contain $m }
        (& $LabelRecipes -Recipe ShowByLabel -Label "pve.host=$($PveOf[$M1])" -Prefix $Prefix).Hostname | Should -Contain $M1
    }

    It '-WhatIf changes nothing when the labels are there' {
        $before = Format-Labels (Get-OurLabels)
        & $LabelRecipes -Recipe RemoveLabel, PortainerData, ByRole -Key tier, storage, pve.host -PortainerNode $W1 -Role Manager -Prefix $Prefix -WhatIf 6>$null | Out-Null
        Format-Labels (Get-OurLabels) | Should -Be $before
    }

    It 'a node that cannot be labelled does not stop the other nodes nor the next recipe; the script fails at the end' {
        # Set-SwarmNodeLabel fails for W1 (a function of that name comes before the cmdlet); the others really label
        function global:Set-SwarmNodeLabel {
            [CmdletBinding(SupportsShouldProcess)]
            param([Parameter(ValueFromPipelineByPropertyName)][Alias('Hostname')][string]$Name, [hashtable]$Add, [string[]]$Remove, $Context)
            process {
                if ($Name -eq $global:SwarmAdminExampleFailNode) { Write-Error -Message "injected failure for $Name" -TargetObject $Name; return }
                $p = @{ Name = $Name; WhatIf = [bool]$WhatIfPreference; ErrorAction = 'Stop' }
                foreach ($k in 'Add', 'Remove', 'Context') { if ($PSBoundParameters.ContainsKey($k)) { $p[$k] = $PSBoundParameters[$k] } }
                SwarmAdmin\Set-SwarmNodeLabel @p
            }
        }
        $global:SwarmAdminExampleFailNode = $W1
        try {
            $err = $null
            try { & $LabelRecipes -Recipe ByRole, FailureDomain -RoleLabel @{ failtier = 'x' } -ConfigPath $ConfigPath -FailureDomainLabel fail.host -Prefix $Prefix -ErrorAction SilentlyContinue | Out-Null }
            catch { $err = $_ }
        }
        finally { Remove-Item Function:\Set-SwarmNodeLabel; Remove-Variable -Scope Global SwarmAdminExampleFailNode }
        "$err" | Should -Match "label change\(s\) failed \(node\(s\): $([regex]::Escape($W1))\)"
        $now = Get-OurLabels
        $now[$W2] | Should -Match '(^|, )failtier=x(,|$)' -Because 'ByRole went on after W1 failed'
        $now[$W1] | Should -Not -Match 'failtier='
        foreach ($n in $LabNodeNames | Where-Object { $_ -ne $W1 }) { $now[$n] | Should -Match "(^|, )fail\.host=$($PveOf[$n])(,|$)" -Because 'the next recipe still ran' }
    }

    It 'RemoveLabel removes the keys from every node' {
        & $LabelRecipes -Recipe RemoveLabel -Key portainer.data, storage, proxmox.host, pve.host, tier, failtier, fail.host -Prefix $Prefix | Out-Null
        Format-Labels (Get-OurLabels) | Should -Not -Match '='
    }
}

Describe 'examples/deploy-from-git.ps1' {
    BeforeAll {
        $script:DeployFromGit = Join-Path $RepoRoot 'examples/deploy-from-git.ps1'
        # git is a native dependency of the example; tests/lab/lab.sh installs it with the lab's host packages
        # (ensure_host_packages). Missing git is a broken test host: fail, do not skip.
        if (-not (Get-Command git -CommandType Application -ErrorAction SilentlyContinue)) {
            throw 'git is not installed on this test host: examples/deploy-from-git.ps1 needs it. tests/lab/lab.sh up installs it (ensure_host_packages), or apt-get install git.'
        }
        function Invoke-TestGit {
            $o = & git -C $Source -c user.name=swarmadmin-test -c user.email=test@swarmadmin.invalid @args 2>&1
            if ($LASTEXITCODE -ne 0) { throw "git $args failed: $o" }
            $o
        }
        $script:Source = Join-Path $Work 'git/source'
        $script:Checkout = Join-Path $Work 'git/checkout'
        $script:FileStack = "exgf$Id"
        $script:FolderStack = "exgd$Id"
        New-Item -ItemType Directory -Force $Source | Out-Null
        Invoke-TestGit init -q -b main | Out-Null
        # one stack per file, and one per folder with its .env
        New-SleepStackFile (Join-Path $Source "stacks/$FileStack.yml")
        New-SleepStackFile (Join-Path $Source "stacks/$FolderStack/docker-compose.yml") -Command 'sleep ${SLEEP_SECONDS}'
        Set-Content -LiteralPath (Join-Path $Source "stacks/$FolderStack/.env") -Value 'SLEEP_SECONDS=3600'
        Set-Content -LiteralPath (Join-Path $Source 'README.md') -Value 'not a stack'
        Invoke-TestGit add -A | Out-Null
        Invoke-TestGit commit -q -m 'two stacks' | Out-Null
        $script:Common = @{ Repository = $Source; Branch = 'main'; CheckoutPath = $Checkout; ResolveImage = 'Never'; TimeoutSec = 120 }
        function Get-Args([string]$Service) { (Invoke-LabDocker $M1 @('service', 'inspect', $Service, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}')) | ConvertFrom-Json }
    }
    AfterAll {
        Remove-SwarmStack -Name $FileStack, $FolderStack -Wait -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'clones the branch, deploys every stack and records the commit' {
        $r = & $DeployFromGit @Common 6>$null
        $r.Succeeded | Should -BeTrue
        $r.Skipped | Should -BeFalse
        $r.Commit | Should -Be (Invoke-TestGit rev-parse HEAD)
        ($r.Stacks | Sort-Object) | Should -Be (@($FileStack, $FolderStack) | Sort-Object)
        $r.Deployments | ForEach-Object { $_.Converged | Should -BeTrue }
        foreach ($s in $FileStack, $FolderStack) {
            Invoke-LabDocker $M1 @('service', 'ls', '--filter', "name=${s}_app", '--format', '{{.Replicas}}') | Should -Be '1/1'
        }
        Get-Args "${FolderStack}_app" | Should -Be @('sleep', '3600') -Because 'the folder''s .env fills ${SLEEP_SECONDS}'
        (Get-Content (Join-Path $Checkout '.git/swarmadmin-deployed.json') -Raw | ConvertFrom-Json).Commit | Should -Be $r.Commit
    }

    It 'a new commit updates the changed service, and only that one' {
        $folderVersion = Get-ServiceVersion "${FolderStack}_app"
        New-SleepStackFile (Join-Path $Source "stacks/$FileStack.yml") -Command 'sleep 3601'
        Invoke-TestGit commit -q -am 'longer sleep' | Out-Null
        $r = & $DeployFromGit @Common 6>$null
        $r.Succeeded | Should -BeTrue
        $r.Commit | Should -Be (Invoke-TestGit rev-parse HEAD)
        $r.PreviousCommit | Should -Not -Be $r.Commit
        ($r.Deployments | Where-Object Stack -eq $FileStack).Services.Action | Should -Be 'Updated'
        ($r.Deployments | Where-Object Stack -eq $FolderStack).Services.Action | Should -Be 'Unchanged'
        Get-Args "${FileStack}_app" | Should -Be @('sleep', '3601')
        Get-ServiceVersion "${FolderStack}_app" | Should -Be $folderVersion
    }

    It 'skips the deployment when the commit did not change' {
        $v = Get-ServiceVersion "${FileStack}_app"
        $r = & $DeployFromGit @Common 6>$null
        $r.Skipped | Should -BeTrue
        $r.Deployments | Should -BeNullOrEmpty
        Get-ServiceVersion "${FileStack}_app" | Should -Be $v
    }

    It 'treats an unreadable state file as none: warns, deploys again and writes a valid one' {
        $statePath = Join-Path $Checkout '.git/swarmadmin-deployed.json'
        Set-Content -LiteralPath $statePath -Value '{ "Commit": "half-writ'
        $r = & $DeployFromGit @Common -WarningVariable warns -WarningAction SilentlyContinue 6>$null
        "$warns" | Should -Match 'cannot be read'
        $r.Skipped | Should -BeFalse
        $r.Succeeded | Should -BeTrue
        $r.PreviousCommit | Should -BeNullOrEmpty
        $r.Deployments.Services.Action | ForEach-Object { $_ | Should -Be 'Unchanged' }
        (Get-Content -LiteralPath $statePath -Raw | ConvertFrom-Json).Commit | Should -Be $r.Commit
        # written through a temporary file and a rename: none is left beside it
        Get-ChildItem (Split-Path $statePath) -Force -Filter '*.tmp' | Should -BeNullOrEmpty
    }

    It '-WhatIf changes neither the swarm, nor the recorded commit, nor the checkout, and reports success' {
        $statePath = Join-Path $Checkout '.git/swarmadmin-deployed.json'
        $deployed = (Get-Content $statePath -Raw | ConvertFrom-Json).Commit
        $v = Get-ServiceVersion "${FileStack}_app"
        New-SleepStackFile (Join-Path $Source "stacks/$FileStack.yml") -Command 'sleep 3602' -Replicas 2
        Invoke-TestGit commit -q -am 'two replicas' | Out-Null
        $newCommit = Invoke-TestGit rev-parse HEAD
        # local work in the checkout that a real run would discard (reset --hard, clean -fd): -WhatIf must keep it
        Add-Content -LiteralPath (Join-Path $Checkout 'README.md') -Value 'a local edit'
        Set-Content -LiteralPath (Join-Path $Checkout 'untracked.txt') -Value 'local'
        $gitState = { @(git -C $Checkout rev-parse HEAD refs/remotes/origin/main) + @(git -C $Checkout status --porcelain) + @(git -C $Checkout stash list) }
        $before = & $gitState
        $tempBefore = @(Get-ChildItem ([IO.Path]::GetTempPath()) -Filter 'swarmadmin-git-whatif-*' -ErrorAction SilentlyContinue).Count

        $r = & $DeployFromGit @Common -WhatIf 6>$null
        $r.Succeeded | Should -BeTrue -Because 'nothing was deployed, and nothing failed'
        $r.Skipped | Should -BeFalse
        $r.Commit | Should -Be $newCommit -Because 'the plan is for the branch''s new commit'

        Get-ServiceVersion "${FileStack}_app" | Should -Be $v
        Invoke-LabDocker $M1 @('service', 'ls', '--filter', "name=${FileStack}_app", '--format', '{{.Replicas}}') | Should -Be '1/1'
        (Get-Content $statePath -Raw | ConvertFrom-Json).Commit | Should -Be $deployed
        (& $gitState) | Should -Be $before -Because 'HEAD, the remote branch and the working tree stay as they were'
        (& $gitState)[0] | Should -Be $deployed
        Get-Content -LiteralPath (Join-Path $Checkout 'README.md') -Raw | Should -Match 'a local edit'
        Test-Path (Join-Path $Checkout 'untracked.txt') | Should -BeTrue
        Get-Content -LiteralPath (Join-Path $Checkout "stacks/$FileStack.yml") -Raw | Should -Not -Match 'sleep 3602'
        @(Get-ChildItem ([IO.Path]::GetTempPath()) -Filter 'swarmadmin-git-whatif-*' -ErrorAction SilentlyContinue).Count | Should -Be $tempBefore -Because 'the temporary clone is removed'
    }

    It 'refuses a repository URL with a password in it' {
        foreach ($url in 'https://user:secret@git.invalid/stacks.git', 'ssh://git:secret@git.invalid/stacks.git', 'git:secret@git.invalid:stacks.git') {
            { & $DeployFromGit -Repository $url -CheckoutPath (Join-Path $Work 'git/never') } | Should -Throw '*carries credentials*' -Because $url
        }
        Test-Path (Join-Path $Work 'git/never') | Should -BeFalse
    }

    It 'refuses a token-only https URL, and the token appears in no message' {
        $token = 'ghp_0123456789abcdefTOKEN'
        $err = $null
        try { & $DeployFromGit -Repository "https://$token@github.com/org/repo.git" -CheckoutPath (Join-Path $Work 'git/never2') -WhatIf }
        catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        "$err" | Should -BeLike '*carries credentials*'
        "$err" | Should -Not -Match $token
        Test-Path (Join-Path $Work 'git/never2') | Should -BeFalse
    }

    It 'hides the user information of a URL in its messages' {
        $token = 'ghp_9876543210fedcbaTOKEN'
        $other = Join-Path $Work 'git/other'
        New-Item -ItemType Directory -Force $other | Out-Null
        git -C $other init -q -b main
        git -C $other remote add origin "https://$token@example.invalid/x.git"
        $err = $null
        try { & $DeployFromGit -Repository $Source -CheckoutPath $other -WhatIf 6>$null }
        catch { $err = $_ }
        "$err" | Should -BeLike '*is a checkout of https://`*`*`*@example.invalid/x.git*'
        "$err" | Should -Not -Match $token
    }

    It 'lets an ssh URL with a bare user name through (it fails later, at git, with the user name shown)' {
        $err = $null
        try { & $DeployFromGit -Repository 'ssh://git@git.invalid/stacks.git' -CheckoutPath (Join-Path $Work 'git/never3') 6>$null }
        catch { $err = $_ }
        "$err" | Should -Not -BeLike '*carries credentials*'
        "$err" | Should -BeLike '*git clone*ssh://git@git.invalid/stacks.git*failed*'
    }
}

Describe 'every example runs in CI' {
    It 'each examples/*.ps1 is invoked by a test file in tests/Pester' {
        $tests = Get-ChildItem $PSScriptRoot -Filter *.Tests.ps1 | ForEach-Object { Get-Content $_.FullName -Raw }
        $examples = Get-ChildItem (Join-Path $RepoRoot 'examples') -Filter *.ps1 -Recurse
        $examples | Should -Not -BeNullOrEmpty
        foreach ($e in $examples) {
            $name = [regex]::Escape($e.Name)
            # a variable is set to the example's path, and that variable is run (& $var, or -File $var for a child pwsh)
            $invoked = $tests | Where-Object {
                $text = $_
                $vars = [regex]::Matches($text, "\`$(?:script:)?(\w+)\s*=\s*[^\r\n]*$name") | ForEach-Object { $_.Groups[1].Value }
                $vars | Where-Object { $text -match "(&|-File)\s+\`$(script:)?$_\b" }
            }
            $invoked | Should -Not -BeNullOrEmpty -Because "examples/$($e.Name) must run in CI (tests/Pester)"
        }
    }

    It 'each examples/*.ps1 has comment-based help: synopsis, description and at least two examples' {
        foreach ($e in Get-ChildItem (Join-Path $RepoRoot 'examples') -Filter *.ps1 -Recurse) {
            $help = Get-Help $e.FullName -Full
            "$($help.Synopsis)".Trim() | Should -Not -BeLike "$($e.Name)*" -Because "$($e.Name) needs a .SYNOPSIS"
            "$($help.description.Text)" | Should -Not -BeNullOrEmpty -Because "$($e.Name) needs a .DESCRIPTION"
            @($help.examples.example).Count | Should -BeGreaterOrEqual 2 -Because "$($e.Name) needs two .EXAMPLEs"
        }
    }
}
