<#
.SYNOPSIS
    Runs the Pester suite against the built module and writes "<passed> <failed> <PowerShell version> <.NET version>" to
    -ResultFile for build.ps1, which runs it once per PowerShell version.
#>
param(
    [string] $ResultFile
)
$ErrorActionPreference = 'Stop'
# build.ps1 runs in strict mode; the tests run as a user's session would, the same as under a bare Invoke-Pester.
Set-StrictMode -Off
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')

$pester = Get-Module -ListAvailable Pester | Where-Object Version -ge ([version]'5.0.0') | Sort-Object Version -Descending | Select-Object -First 1
if (-not $pester) {
    try {
        Install-Module Pester -MinimumVersion 5.0.0 -Scope CurrentUser -Force -SkipPublisherCheck -ErrorAction Stop
    }
    catch {
        throw "Pester 5 is not installed and could not be installed ($($_.Exception.Message)). Install it (Install-PSResource Pester) and run again."
    }
}
Import-Module Pester -MinimumVersion 5.0.0

dotnet build (Join-Path $root 'src/RecurringIntegrations.PowerShell') --nologo -v quiet
if ($LASTEXITCODE -ne 0) { throw 'Building the module failed.' }
# Start-D365Emulator runs the built emulator: build it too, so the tests never run a stale one.
dotnet build (Join-Path $root 'src/RecurringIntegrations.Emulator') --nologo -v quiet
if ($LASTEXITCODE -ne 0) { throw 'Building the emulator failed.' }

$runtime = [Runtime.InteropServices.RuntimeInformation]::FrameworkDescription -replace '^\.NET (Core |Framework )?', ''
"Pester on PowerShell $($PSVersionTable.PSVersion) (.NET $runtime)"

$configuration = New-PesterConfiguration
$configuration.Run.Path = $PSScriptRoot
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $configuration
if ($ResultFile) { Set-Content -Path $ResultFile -Value "$($result.PassedCount) $($result.FailedCount) $($PSVersionTable.PSVersion) $runtime" }
