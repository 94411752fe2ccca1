<#
.SYNOPSIS
    Build, test, demo and package RecurringIntegrations.
.DESCRIPTION
    Build   : dotnet build; lays the importable module out in out/RecurringIntegrations.
    Test    : the xunit suite (dotnet test), then the Pester suite (tests/Pester); ends with "N passed, M failed".
    Demo    : builds, starts the emulator, runs module/Examples/Demo.ps1 against it, stops the emulator.
    Package : builds in Release and writes a PowerShell Gallery package (nupkg) to out/packages (PSResourceGet).
    EmulatorTool : packs the emulator as a .NET tool (command d365-emulator) into out/tool:
              dotnet tool install --global --add-source out/tool RecurringIntegrations.Emulator
    Clean   : removes out/ and every bin/ and obj/ folder.
.EXAMPLE
    ./build.ps1 -Task Demo
.EXAMPLE
    ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Package', 'EmulatorTool', 'Clean')]
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

# The whole suite: xunit, then Pester (run even when xunit failed, so one run shows every failure). Ends with one
# line "N passed, M failed" over both, which .ci/run reads; throws when anything failed.
function Invoke-Test {
    $xunit = Measure-Command {
        $script:xunitOutput = dotnet test (Join-Path $root 'RecurringIntegrations.slnx') -c $Configuration --nologo 2>&1 |
            ForEach-Object { Write-Host $_; "$_" }
    }
    $xunitExit = $LASTEXITCODE
    # One summary line per test assembly: "Passed!  - Failed:     0, Passed:   348, Skipped: ..."
    $xunitPassed = 0; $xunitFailed = 0
    foreach ($line in $xunitOutput) {
        if ($line -match 'Failed:\s*(\d+), Passed:\s*(\d+),') { $xunitFailed += [int] $Matches[1]; $xunitPassed += [int] $Matches[2] }
    }
    if ($xunitExit -ne 0 -and $xunitFailed -eq 0) {
        Write-Host "dotnet test failed before running its tests (exit code $xunitExit)."
        $xunitFailed = 1
    }

    $resultFile = New-TemporaryFile
    try {
        $pester = Measure-Command { & (Join-Path $root 'tests/Pester/Run-Pester.ps1') -ResultFile $resultFile | Out-Host }
        $pesterPassed, $pesterFailed = [int[]] ((Get-Content $resultFile -Raw).Trim() -split ' ')
    }
    catch {
        Write-Host "The Pester suite did not run to the end: $_"
        $pesterPassed, $pesterFailed = 0, 1
    }
    finally {
        Remove-Item $resultFile -ErrorAction SilentlyContinue
    }

    Write-Host ('xunit:  {0} passed, {1} failed in {2:0} s' -f $xunitPassed, $xunitFailed, $xunit.TotalSeconds)
    Write-Host ('Pester: {0} passed, {1} failed in {2:0} s' -f $pesterPassed, $pesterFailed, $pester.TotalSeconds)
    $failed = $xunitFailed + $pesterFailed
    Write-Host ('{0} passed, {1} failed' -f ($xunitPassed + $pesterPassed), $failed)
    if ($failed -gt 0) { throw "$failed test(s) failed." }
}

# A PowerShell Gallery package in out/packages, made by publishing to a folder repository registered for this run
# only: PSResourceGet where it is installed (PowerShell 7.4+ ships it), else PowerShellGet 2 (Windows PowerShell 5.1).
function Invoke-Package {
    $packages = Join-Path $root 'out/packages'
    New-Item -ItemType Directory -Force -Path $packages | Out-Null
    # A repository refuses a version it already holds: a rebuild replaces the package.
    Remove-Item -Path (Join-Path $packages 'RecurringIntegrations.*.nupkg') -ErrorAction SilentlyContinue
    Test-ModuleManifest (Join-Path $moduleDir 'RecurringIntegrations.psd1') | Out-Null
    $repository = 'RecurringIntegrationsBuild'
    if (Get-Command Publish-PSResource -ErrorAction SilentlyContinue) {
        if (Get-PSResourceRepository -Name $repository -ErrorAction SilentlyContinue) { Unregister-PSResourceRepository -Name $repository }
        Register-PSResourceRepository -Name $repository -Uri $packages -Trusted
        try { Publish-PSResource -Path $moduleDir -Repository $repository }
        finally { Unregister-PSResourceRepository -Name $repository }
    }
    elseif (Get-Command Publish-Module -ErrorAction SilentlyContinue) {
        if (Get-PSRepository -Name $repository -ErrorAction SilentlyContinue) { Unregister-PSRepository -Name $repository }
        Register-PSRepository -Name $repository -SourceLocation $packages -PublishLocation $packages -InstallationPolicy Trusted
        try { Publish-Module -Path $moduleDir -Repository $repository -NuGetApiKey 'local' }
        finally { Unregister-PSRepository -Name $repository }
    }
    else {
        throw 'The Package task needs PSResourceGet (Publish-PSResource; PowerShell 7.4+ ships it, or Install-Module Microsoft.PowerShell.PSResourceGet) or PowerShellGet 2 (Publish-Module).'
    }
    Get-ChildItem $packages -Filter *.nupkg | ForEach-Object { "Package: $($_.FullName)" }
}

# The emulator as a .NET tool package in out/tool (its own folder: the Package task replaces what out/packages holds).
function Invoke-EmulatorTool {
    $tool = Join-Path $root 'out/tool'
    Invoke-Native 'dotnet pack (the emulator tool)' { dotnet pack (Join-Path $root 'src/RecurringIntegrations.Emulator') -c $Configuration -o $tool --nologo -v quiet }
    Get-ChildItem $tool -Filter 'RecurringIntegrations.Emulator.*.nupkg' | ForEach-Object { "Emulator tool: $($_.FullName)" }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Test }
    'Demo' {
        Invoke-Build
        Invoke-Demo
    }
    'Package' {
        $Configuration = 'Release'
        Invoke-Build
        Invoke-Package
    }
    'EmulatorTool' { Invoke-EmulatorTool }
    'Clean' {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $root 'out')
        Get-ChildItem $root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
    }
}
