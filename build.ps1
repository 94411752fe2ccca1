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

# The build's own output matters only when it fails, and then all of it: so the demo's first screen is the demo.
function Invoke-Build {
    foreach ($project in 'src/RecurringIntegrations.PowerShell', 'src/RecurringIntegrations.Emulator') {
        $output = dotnet build (Join-Path $root $project) -c $Configuration --nologo 2>&1
        if ($LASTEXITCODE -ne 0) {
            $output | Out-Host
            throw "dotnet build $project failed (exit code $LASTEXITCODE)."
        }
    }
    "Built $moduleDir ($Configuration)."
}

# Runs module/Examples/Demo.ps1 against a fresh emulator with sample files. The finally block also runs on Ctrl+C,
# so the emulator never outlives the demo and the sample files go; the report stays in out/demo.
function Invoke-Demo {
    Import-Module (Join-Path $root 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $samples = Join-Path ([IO.Path]::GetTempPath()) ('ri-demo-' + [guid]::NewGuid().ToString('N'))
    $inbox = Join-Path $samples 'in'
    $exports = Join-Path $samples 'exports'
    New-Item -ItemType Directory -Path $inbox, $exports | Out-Null
    $emulator = $null
    try {
        # Three imports, one with errors: the emulator turns each 'EMULATOR-ERROR:' line into an execution error.
        Set-Content -Path (Join-Path $inbox 'customer-groups-1.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nWHOLESALE,Wholesale customers"
        Set-Content -Path (Join-Path $inbox 'customer-groups-2.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nRETAIL,Retail customers"
        Set-Content -Path (Join-Path $inbox 'customer-groups-bad.csv') -Value ("CUSTOMERGROUPID,DESCRIPTION`n" +
            "EMULATOR-ERROR: Customer group 'TOO-LONG-NAME-FOR-FIELD' is longer than 10 characters`n" +
            'EMULATOR-ERROR: Field DESCRIPTION must be filled in')
        # Two files waiting on the export queue.
        Set-Content -Path (Join-Path $exports 'vendors.xml') -Value '<Document><VendVendorV2Entity VENDORACCOUNTNUMBER="V001"/></Document>'
        Set-Content -Path (Join-Path $exports 'products.xml') -Value '<Document><EcoResReleasedProductV2Entity ITEMNUMBER="A100"/></Document>'

        $emulator = Start-D365Emulator -Configuration $Configuration -ArgumentList '--export-folder', $exports, '--processing-delay-ms', '1000'
        Import-Module (Join-Path $moduleDir 'RecurringIntegrations.psd1') -Force
        $connect = $emulator.ConnectParameters
        & (Join-Path $root 'module/Examples/Demo.ps1') @connect -ImportActivity $emulator.Ready.importActivity `
            -ExportActivity $emulator.Ready.exportActivity -InputFolder $inbox -OutputFolder (Join-Path $samples 'out') `
            -ReportFolder (Join-Path $root 'out/demo')
    }
    finally {
        if ($emulator) { Stop-D365Emulator $emulator }
        Remove-Item -LiteralPath $samples -Recurse -Force -ErrorAction SilentlyContinue
    }
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
        Invoke-Demo
    }
    'Package' {
        $Configuration = 'Release'
        Invoke-Build
        if (-not (Get-Command Publish-Module -ErrorAction SilentlyContinue)) {
            throw 'The Package task needs the PowerShellGet module (Publish-Module), which Windows PowerShell 5.1 and PowerShell 7 ship with.'
        }
        $packages = Join-Path $root 'out/packages'
        New-Item -ItemType Directory -Force -Path $packages | Out-Null
        # Publish-Module refuses a version the repository already holds: a rebuild replaces the package.
        Remove-Item -Path (Join-Path $packages 'RecurringIntegrations.*.nupkg') -ErrorAction SilentlyContinue
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
