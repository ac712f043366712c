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
}

Import-Module -Assembly $moduleAssembly -Force
