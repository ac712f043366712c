# SwarmAdmin loader. On PowerShell 7 the module assembly and its dependencies (Docker.DotNet.Enhanced, SSH.NET,
# YamlDotNet ...) load into a private AssemblyLoadContext, so other versions loaded by other modules never clash.
# Windows PowerShell 5.1 has no load contexts: there the assembly loads normally.
$binDir = [System.IO.Path]::Combine($PSScriptRoot, 'bin')

if ($PSVersionTable.PSEdition -eq 'Core') {
    $loaderType = 'SwarmAdmin.Loader.LoadContext' -as [type]
    if (-not $loaderType) {
        Add-Type -Path ([System.IO.Path]::Combine($binDir, 'SwarmAdmin.Loader.dll'))
        $loaderType = 'SwarmAdmin.Loader.LoadContext' -as [type]
    }
    $moduleAssembly = $loaderType::Initialize('SwarmAdmin')
}
else {
    $moduleAssembly = [System.Reflection.Assembly]::LoadFrom([System.IO.Path]::Combine($binDir, 'SwarmAdmin.dll'))
    # .NET Framework has no binding redirects for a module: the libraries in bin/ reference each other in other
    # versions than the ones shipped; a resolver (C#, so that it also runs on threads without a runspace) serves them.
    $moduleAssembly.GetType('SwarmAdmin.Infrastructure.DesktopAssemblyResolver')::Register($binDir)
}

# Import-Module -Force of an assembly that is already loaded returns its cmdlets but does not re-export them
# (PowerShell/PowerShell#20710): add them to this module's exports by hand on a reload.
$isReload = $null -ne (Get-Module -Name SwarmAdmin -All | Where-Object { $_.ModuleType -eq 'Binary' -and $_.ImplementingAssembly -eq $moduleAssembly })
$innerModule = Import-Module -Assembly $moduleAssembly -Force -PassThru
if ($isReload -or -not $ExecutionContext.SessionState.Module.ExportedCmdlets.Count) {
    $addExportedCmdlet = [System.Management.Automation.PSModuleInfo].GetMethod('AddExportedCmdlet', [System.Reflection.BindingFlags]'Instance, NonPublic')
    foreach ($cmdlet in $innerModule.ExportedCmdlets.Values) {
        $addExportedCmdlet.Invoke($ExecutionContext.SessionState.Module, @(, $cmdlet))
    }
}
