<#
.SYNOPSIS
    Build, test, demo and package RecurringIntegrations.
.DESCRIPTION
    Build   : dotnet build; lays the importable module out in out/RecurringIntegrations.
    Test    : the xunit suite (dotnet test), then the Pester suite (tests/Pester).
    Demo    : builds, starts the emulator, runs module/Examples/Demo.ps1 against it, stops the emulator.
    Package : builds in Release and writes a PowerShell Gallery package (nupkg) to out/packages.
    Clean   : removes out/ and every bin/ and obj/ folder.
.EXAMPLE
    ./build.ps1 -Task Demo
.EXAMPLE
    ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Package', 'Clean')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$moduleDir = Join-Path $root 'out/RecurringIntegrations'

function Invoke-Native([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)." }
}

function Invoke-Build {
    Invoke-Native 'dotnet build' { dotnet build (Join-Path $root 'src/RecurringIntegrations.PowerShell') -c $Configuration --nologo }
    Invoke-Native 'dotnet build (emulator)' { dotnet build (Join-Path $root 'src/RecurringIntegrations.Emulator') -c $Configuration --nologo }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' {
        Invoke-Native 'dotnet test' { dotnet test (Join-Path $root 'RecurringIntegrations.slnx') -c $Configuration --nologo }
        $resultFile = New-TemporaryFile
        & (Join-Path $root 'tests/Pester/Run-Pester.ps1') -ResultFile $resultFile
        $passed, $failed = (Get-Content $resultFile -Raw).Trim() -split ' '
        Remove-Item $resultFile
        if ([int] $failed -gt 0) { throw "$failed Pester test(s) failed." }
    }
    'Demo' {
        Invoke-Build
        $emulator = Join-Path $root "src/RecurringIntegrations.Emulator/bin/$Configuration/net10.0/RecurringIntegrations.Emulator.dll"
        & (Join-Path $root 'module/Examples/Start-Demo.ps1') -ModulePath $moduleDir -EmulatorAssembly $emulator
    }
    'Package' {
        $Configuration = 'Release'
        Invoke-Build
        $packages = Join-Path $root 'out/packages'
        New-Item -ItemType Directory -Force -Path $packages | Out-Null
        $repository = 'RecurringIntegrationsLocal'
        if (Get-PSRepository -Name $repository -ErrorAction SilentlyContinue) { Unregister-PSRepository -Name $repository }
        Register-PSRepository -Name $repository -SourceLocation $packages -PublishLocation $packages -InstallationPolicy Trusted
        try {
            Test-ModuleManifest (Join-Path $moduleDir 'RecurringIntegrations.psd1') | Out-Null
            Publish-Module -Path $moduleDir -Repository $repository -NuGetApiKey 'local'
        }
        finally {
            Unregister-PSRepository -Name $repository
        }
        Get-ChildItem $packages -Filter *.nupkg | ForEach-Object { "Package: $($_.FullName)" }
    }
    'Clean' {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $root 'out')
        Get-ChildItem $root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
    }
}
