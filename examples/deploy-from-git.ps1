<#
.SYNOPSIS
    Deploys the stacks of a git repository (GitOps style): clones or updates a checkout of one branch, deploys every
    stack file with Deploy-SwarmStack -Wait -RollbackOnFailure, and records the commit it deployed.
.DESCRIPTION
    1. -CheckoutPath is a checkout this script owns: the first run clones -Repository (one branch), later runs fetch
       the branch and reset the checkout to it (git reset --hard, git clean -fd). Local changes to tracked files are
       discarded; untracked files that .gitignore lists (such as a .env file with values kept out of git) stay.
    2. The stacks are the files that -StackPath matches, relative to the checkout:
         stacks/*.yml                      one stack per file, named after the file (stacks/web.yml -> stack web);
                                           stacks/web.env beside it is its env file when it exists
         stacks/*/docker-compose.yml       one stack per folder, named after the folder; the folder's .env is used
                                           (compose.yml, compose.yaml and docker-compose.yaml work the same way)
    3. When the branch's commit is the one the state file says was deployed, with the same -StackPath, nothing is
       deployed (the output says Skipped), unless -Force. A state file that cannot be read counts as none (a warning
       says so), so the branch is deployed again.
    4. Each stack: Deploy-SwarmStack -Wait -RollbackOnFailure (-Prune with -Prune). Services whose spec did not change
       are not touched. A stack that does not converge is rolled back and reported; the others are still deployed.
    5. When every stack converged, the commit is written to the state file (-StatePath, default: a file inside the
       checkout's .git folder; written to a temporary file beside it, then renamed, so it is never half-written) and
       printed. Exit code 1 when a stack failed.

    -WhatIf: the checkout is left exactly as it is (no clone, fetch, checkout, reset or clean there). The branch is
    cloned into a temporary folder, which is removed afterwards; Deploy-SwarmStack -WhatIf shows what each stack of that
    commit would change (an env file that git ignores is taken from the checkout, as a real run would find it there).
    The swarm and the state file are left alone.

    git runs as a native command. No credential ever goes into its arguments: use an SSH URL with a key
    (ssh-agent, ~/.ssh/config or GIT_SSH_COMMAND) or a git credential helper. A URL with user information is refused
    (https://user:password@..., https://<token>@...), except a bare user name in an SSH URL (ssh://git@host/path or
    git@host:path). Messages show any user information of a URL as ***. GIT_TERMINAL_PROMPT=0 makes git fail instead
    of waiting for a password in a scheduled run.
.PARAMETER Repository
    The repository: a URL (https://, ssh://, git@host:path) or a local path.
.PARAMETER Branch
    The branch to deploy.
.PARAMETER CheckoutPath
    Where the checkout lives (created by the first run).
.PARAMETER StackPath
    Patterns of the stack files, relative to the checkout.
.PARAMETER StatePath
    The file that records the deployed commit. Default: <CheckoutPath>/.git/swarmadmin-deployed.json.
.PARAMETER Prune
    Also remove services that a stack no longer declares.
.PARAMETER Force
    Deploy even when the commit was already deployed.
.PARAMETER TimeoutSec
    Seconds each stack may take to converge.
.PARAMETER ResolveImage
    Deploy-SwarmStack -ResolveImage: Always (ask the registry for each image's digest), Changed or Never.
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
    ./examples/deploy-from-git.ps1 -Repository git@git.example.org:ops/swarm-stacks.git -Branch main -CheckoutPath ~/swarm-stacks -WhatIf

    Clones the repository (or updates the checkout) and shows what deploying each stacks/*.yml would change.
.EXAMPLE
    # cron, every 10 minutes: deploys only when main has a new commit
    */10 * * * * pwsh -NoProfile -NonInteractive -File /opt/swarmadmin/examples/deploy-from-git.ps1 -Repository git@git.example.org:ops/swarm-stacks.git -CheckoutPath /var/lib/swarm-stacks -StackPath 'stacks/*/docker-compose.yml' -Prune -Endpoint ssh://root@192.168.4.30,ssh://root@192.168.4.31 -KeyFile /root/.ssh/id_ed25519 -KnownHostsPath /root/.ssh/known_hosts >>/var/log/swarm-deploy.log 2>&1

    One stack per folder (stacks/portainer/docker-compose.yml with stacks/portainer/.env), services that disappeared
    from a file are removed.
.EXAMPLE
    ./examples/deploy-from-git.ps1 -Repository /srv/git/stacks.git -Branch release -CheckoutPath ./checkout -Force | Select-Object -ExpandProperty Deployments

    Deploys the release branch again even though its commit is already deployed, and shows each stack's result.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)][string]$Repository,
    [string]$Branch = 'main',
    [Parameter(Mandatory)][string]$CheckoutPath,
    [string[]]$StackPath = @('stacks/*.yml', 'stacks/*.yaml', 'stacks/*/docker-compose.yml', 'stacks/*/docker-compose.yaml', 'stacks/*/compose.yml', 'stacks/*/compose.yaml'),
    [string]$StatePath,
    [switch]$Prune,
    [switch]$Force,
    [ValidateRange(1, 3600)][int]$TimeoutSec = 300,
    [ValidateSet('Always', 'Changed', 'Never')][string]$ResolveImage = 'Always',
    [string[]]$Endpoint,
    [string[]]$KeyFile,
    [string]$KnownHostsPath,
    [string]$ModulePath
)
$ErrorActionPreference = 'Stop'
# pwsh -File passes "a,b" as one string: split the list here so that cron lines can use commas
$StackPath = @($StackPath | ForEach-Object { "$_" -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
if ($ModulePath) { Import-Module (Resolve-Path -LiteralPath $ModulePath).ProviderPath -Force } elseif (-not (Get-Module SwarmAdmin)) { Import-Module SwarmAdmin }

# The user information of every URL in a text (scheme://user:password@host, scheme://token@host) as ***; a bare user
# name of an ssh URL stays (ssh://git@host is no secret).
function Hide-UrlCredential([string]$Text) {
    [regex]::Replace($Text, '(?i)\b([a-z][a-z0-9+.-]*)://([^/?#@\s]+)@', {
            param($m)
            if ($m.Groups[1].Value -match '^(git\+)?ssh(\+git)?$' -and $m.Groups[2].Value -notmatch ':') { $m.Value }
            else { "$($m.Groups[1].Value)://***@" }
        })
}

function Invoke-Git {
    # native git: stderr is collected (not an error record that -ErrorAction Stop would throw on), exit code checked
    $ErrorActionPreference = 'Continue'
    $out = & git @args 2>&1
    if ($LASTEXITCODE -ne 0) { throw (Hide-UrlCredential "git $($args -join ' ') failed (exit code $LASTEXITCODE): $(($out | ForEach-Object { "$_" }) -join ' ')") }
    @($out | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] } | ForEach-Object { "$_" })
}

# Writes a file as a whole: a temporary file in the same folder, then one rename (a reader or a crash in between sees
# the old or the new file, never half of one).
function Write-FileAtomically([string]$Path, [string]$Text) {
    $full = [IO.Path]::GetFullPath($Path)
    $dir = [IO.Path]::GetDirectoryName($full)
    if (-not [IO.Directory]::Exists($dir)) { [void][IO.Directory]::CreateDirectory($dir) }
    $tmp = Join-Path $dir (".{0}.{1}.tmp" -f [IO.Path]::GetFileName($full), [Guid]::NewGuid().ToString('N'))
    try {
        [IO.File]::WriteAllText($tmp, $Text, [Text.UTF8Encoding]::new($false))
        if ($PSVersionTable.PSEdition -eq 'Core') { [IO.File]::Move($tmp, $full, $true) }
        elseif ([IO.File]::Exists($full)) { [IO.File]::Replace($tmp, $full, $null) }
        else { [IO.File]::Move($tmp, $full) }
    }
    finally { if ([IO.File]::Exists($tmp)) { [IO.File]::Delete($tmp) } }
}

if (-not (Get-Command git -CommandType Application -ErrorAction SilentlyContinue)) { throw 'git is not installed (apt-get install git).' }
# No credential in a URL: it would be in git's command line, .git/config, the output and the state file.
# Refused: any user information in a URL with a scheme (https://user:password@, https://<token>@, ...) except a bare
# user name in an ssh URL, and a password in the scp-like form (user:password@host:path).
if ($Repository -match '^(?<scheme>[a-z][a-z0-9+.-]*)://(?<userinfo>[^/?#@]*)@') {
    $scheme = $Matches.scheme; $userInfo = $Matches.userinfo
    if ($scheme -notmatch '^(git\+)?ssh(\+git)?$' -or $userInfo -match ':') {
        throw 'The repository URL carries credentials (user information before @). Use an SSH URL with a key (ssh://git@host/path or git@host:path), or a git credential helper, so that no credential is in a command line or a file.'
    }
}
elseif ($Repository -notmatch '://' -and $Repository -match '^[^/@]*:[^/@]*@' -and -not (Test-Path -LiteralPath $Repository)) {
    throw 'The repository URL carries credentials (user:password@). Use an SSH URL with a key (git@host:path), or a git credential helper.'
}
if ($Branch -notmatch '^[\w][\w./-]*$' -or $Branch -match '\.\.') { throw "Not a branch name: $Branch" }
$env:GIT_TERMINAL_PROMPT = '0'
# a local repository is recorded by git as its full path
if (Test-Path -LiteralPath $Repository) { $Repository = (Resolve-Path -LiteralPath $Repository).ProviderPath }

# ---------------------------------------------------------------- 1. the checkout
$checkout = [IO.Path]::GetFullPath($(if ([IO.Path]::IsPathRooted($CheckoutPath)) { $CheckoutPath } else { Join-Path (Get-Location).ProviderPath $CheckoutPath }))
$shownRepository = Hide-UrlCredential $Repository
$isCheckout = Test-Path -LiteralPath (Join-Path $checkout '.git')
if ($isCheckout) {
    $origin = (Invoke-Git -C $checkout remote get-url origin) | Select-Object -First 1
    if ($origin -ne $Repository) { throw "$checkout is a checkout of $(Hide-UrlCredential $origin), not of $shownRepository. Use another -CheckoutPath." }
}
elseif ((Test-Path -LiteralPath $checkout) -and (Get-ChildItem -LiteralPath $checkout -Force | Select-Object -First 1)) {
    throw "$checkout exists and is not a git checkout. Use an empty or new folder for -CheckoutPath."
}
# $tree: where the stack files are read. -WhatIf: a temporary clone, so that the checkout is not touched at all.
$tree = $checkout
$whatIfClone = $null
$ctxArgs = @{}
try {
    if ($WhatIfPreference) {
        $whatIfClone = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-git-whatif-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
        Write-Verbose "-WhatIf: cloning $shownRepository ($Branch) into $whatIfClone; $checkout is left as it is"
        Invoke-Git clone --quiet --single-branch --branch $Branch '--' $Repository $whatIfClone | Out-Null
        $tree = $whatIfClone
    }
    else {
        if ($isCheckout) {
            Write-Verbose "Fetching $Branch into $checkout"
            Invoke-Git -C $checkout fetch --quiet --prune origin "+refs/heads/${Branch}:refs/remotes/origin/$Branch" | Out-Null
        }
        else {
            Write-Verbose "Cloning $shownRepository ($Branch) into $checkout"
            Invoke-Git clone --quiet --single-branch --branch $Branch '--' $Repository $checkout | Out-Null
        }
        Invoke-Git -C $checkout checkout --quiet --force -B $Branch "refs/remotes/origin/$Branch" | Out-Null
        Invoke-Git -C $checkout reset --quiet --hard "refs/remotes/origin/$Branch" | Out-Null
        Invoke-Git -C $checkout clean --quiet -fd | Out-Null
    }
    $commit = (Invoke-Git -C $tree rev-parse HEAD) | Select-Object -First 1
    $subject = (Invoke-Git -C $tree log -1 --format=%s) | Select-Object -First 1

    # ---------------------------------------------------------------- 2. the stacks
    $stacks = [ordered]@{}
    foreach ($pattern in $StackPath) {
        foreach ($file in Get-ChildItem -Path (Join-Path $tree $pattern) -File -ErrorAction SilentlyContinue | Sort-Object FullName) {
            $perFolder = $file.Name -in 'docker-compose.yml', 'docker-compose.yaml', 'compose.yml', 'compose.yaml'
            $name = if ($perFolder) { $file.Directory.Name } else { [IO.Path]::GetFileNameWithoutExtension($file.Name) }
            $envFile = if ($perFolder) { Join-Path $file.DirectoryName '.env' } else { Join-Path $file.DirectoryName "$name.env" }
            if ($stacks.Contains($name)) { throw "Two files make a stack named ${name}: $($stacks[$name].Path) and $($file.FullName)." }
            if ($whatIfClone -and $isCheckout -and -not (Test-Path -LiteralPath $envFile)) {
                # an env file kept out of git: a real run finds it in the checkout (git clean -fd keeps ignored files)
                $relative = $envFile.Substring($whatIfClone.Length).TrimStart('\', '/')
                $inCheckout = Join-Path $checkout $relative
                if (Test-Path -LiteralPath $inCheckout) {
                    & git -C $checkout check-ignore --quiet '--' $relative 2>$null
                    if ($LASTEXITCODE -eq 0) { $envFile = $inCheckout }
                }
            }
            $stacks[$name] = [pscustomobject]@{ Name = $name; Path = $file.FullName; EnvFile = $(if (Test-Path -LiteralPath $envFile) { $envFile }) }
        }
    }
    if ($stacks.Count -eq 0) { throw "No stack file in $tree matches $($StackPath -join ', ')." }

    # ---------------------------------------------------------------- 3. already deployed?
    if (-not $StatePath) { $StatePath = Join-Path $checkout '.git/swarmadmin-deployed.json' }
    $state = $null
    if (Test-Path -LiteralPath $StatePath) {
        try {
            $state = Get-Content -LiteralPath $StatePath -Raw | ConvertFrom-Json
            if (-not $state -or $state.Commit -isnot [string] -or $state.Commit -notmatch '^[0-9a-f]{7,64}$') { throw 'it has no Commit' }
        }
        catch {
            Write-Warning "The state file $StatePath cannot be read ($($_.Exception.Message)); treating it as no deployment recorded."
            $state = $null
        }
    }
    $patterns = ($StackPath -join ';')
    $result = [pscustomobject]@{
        PSTypeName     = 'SwarmAdmin.Example.GitDeployment'
        Repository     = $shownRepository
        Branch         = $Branch
        Commit         = $commit
        Subject        = $subject
        PreviousCommit = $(if ($state) { $state.Commit })
        Stacks         = @($stacks.Keys)
        Skipped        = $false
        Succeeded      = $true
        Deployments    = @()
    }
    if ($state -and $state.Commit -eq $commit -and $state.StackPath -eq $patterns -and -not $Force) {
        Write-Host "Commit $($commit.Substring(0, 12)) of $Branch ($subject) is already deployed; nothing to do (-Force deploys again)."
        $result.Skipped = $true
        return $result
    }

    # ---------------------------------------------------------------- 4. deploy
    if ($Endpoint) {
        $connect = @{ Endpoint = $Endpoint; NoDefault = $true }
        if ($KeyFile) { $connect.KeyFile = $KeyFile }
        if ($KnownHostsPath) { $connect.KnownHostsPath = $KnownHostsPath }
        $ctxArgs.Context = Connect-SwarmCluster @connect -WhatIf:$false
    }
    $failed = @()
    $deployments = foreach ($s in $stacks.Values) {
        $deploy = @{
            Name = $s.Name; Path = $s.Path; Wait = $true; TimeoutSec = $TimeoutSec; RollbackOnFailure = $true
            Prune = [bool]$Prune; ResolveImage = $ResolveImage; WhatIf = [bool]$WhatIfPreference
        }
        if ($s.EnvFile) { $deploy.EnvFile = $s.EnvFile }
        $errs = $null
        $d = Deploy-SwarmStack @deploy @ctxArgs -ErrorAction SilentlyContinue -ErrorVariable errs
        foreach ($e in $errs) { Write-Error -ErrorRecord $e -ErrorAction Continue }
        # -WhatIf deploys nothing, so Converged is $null there: only a real deployment is judged by it
        if ($errs -or ($d -and $null -ne $d.Converged -and -not $d.Converged)) { $failed += $s.Name }
        $d
    }
    $result.Deployments = @($deployments)
    $result.Succeeded = $failed.Count -eq 0

    # ---------------------------------------------------------------- 5. record the commit
    if ($WhatIfPreference) { return $result }
    if ($failed) {
        Write-Host "Commit $($commit.Substring(0, 12)) of $Branch ($subject): $($failed -join ', ') did not deploy; the state file still names $(if ($state) { $state.Commit.Substring(0, [Math]::Min(12, $state.Commit.Length)) } else { 'no commit' })."
        $result
        exit 1
    }
    Write-FileAtomically $StatePath ([ordered]@{
            Repository = $shownRepository; Branch = $Branch; Commit = $commit; Subject = $subject; StackPath = $patterns
            Stacks = @($stacks.Keys); DeployedAt = [DateTime]::UtcNow.ToString('o')
        } | ConvertTo-Json)
    Write-Host "Deployed commit $($commit.Substring(0, 12)) of $Branch ($subject): $(@($stacks.Keys) -join ', ')."
    $result
}
finally {
    # the -WhatIf clone (-WhatIf:$false: it is our own temporary folder; -Force: git makes its pack files read-only)
    if ($whatIfClone) { Remove-Item -LiteralPath $whatIfClone -Recurse -Force -WhatIf:$false -Confirm:$false -ErrorAction SilentlyContinue }
    # -WhatIf:$false: the script's -WhatIf must not keep the connection it opened from being closed
    if ($ctxArgs.Context) { $ctxArgs.Context | Disconnect-SwarmCluster -WhatIf:$false -ErrorAction SilentlyContinue }
}
