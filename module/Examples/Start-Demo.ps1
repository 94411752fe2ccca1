<#
.SYNOPSIS
    Runs Demo.ps1 against a local D365 emulator: starts the emulator, makes sample files, runs the demo, and
    always stops the emulator and removes the sample files (also on Ctrl+C or failure).
.DESCRIPTION
    Used by ./build.ps1 -Task Demo. The report (CSV and HTML) is kept in -ReportFolder.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $ModulePath,
    [string] $EmulatorAssembly = (Join-Path $PSScriptRoot '../../src/RecurringIntegrations.Emulator/bin/Debug/net10.0/RecurringIntegrations.Emulator.dll'),
    [string] $ReportFolder = (Join-Path $PSScriptRoot '../../out/demo')
)
$ErrorActionPreference = 'Stop'
$work = Join-Path ([IO.Path]::GetTempPath()) ("ri-demo-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
$inbox = New-Item -ItemType Directory -Path (Join-Path $work 'in')
$exports = New-Item -ItemType Directory -Path (Join-Path $work 'exports')
$readyFile = Join-Path $work 'emulator.json'
$emulator = $null
try {
    # Three imports, one of them with errors (the emulator turns each 'EMULATOR-ERROR:' line into an execution error).
    Set-Content -Path (Join-Path $inbox 'customer-groups-1.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nWHOLESALE,Wholesale customers"
    Set-Content -Path (Join-Path $inbox 'customer-groups-2.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nRETAIL,Retail customers"
    Set-Content -Path (Join-Path $inbox 'customer-groups-bad.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nEMULATOR-ERROR: Customer group 'TOO-LONG-NAME-FOR-FIELD' is longer than 10 characters`nEMULATOR-ERROR: Field DESCRIPTION must be filled in"
    # Two files waiting on the export queue.
    Set-Content -Path (Join-Path $exports 'vendors.xml') -Value '<Document><VendVendorV2Entity VENDORACCOUNTNUMBER="V001"/></Document>'
    Set-Content -Path (Join-Path $exports 'products.xml') -Value '<Document><EcoResReleasedProductV2Entity ITEMNUMBER="A100"/></Document>'

    $emulatorLog = Join-Path $work 'emulator.log'
    $emulator = Start-Process -FilePath 'dotnet' -PassThru -RedirectStandardOutput $emulatorLog -RedirectStandardError "$emulatorLog.err" `
        -ArgumentList $EmulatorAssembly, '--ready-file', $readyFile, '--export-folder', $exports, '--processing-delay-ms', '1000'
    $deadline = (Get-Date).AddSeconds(60)
    while (-not (Test-Path $readyFile)) {
        if ($emulator.HasExited) { throw "The emulator stopped: $(Get-Content "$emulatorLog.err" -Raw)" }
        if ((Get-Date) -gt $deadline) { throw 'The emulator did not start within 60 seconds.' }
        Start-Sleep -Milliseconds 200
    }
    $endpoint = Get-Content $readyFile -Raw | ConvertFrom-Json

    Import-Module (Join-Path $ModulePath 'RecurringIntegrations.psd1') -Force
    $demo = @{
        Environment          = $endpoint.environment
        AuthorityHost        = $endpoint.authorityHost
        TenantId             = $endpoint.tenantId
        ClientId             = $endpoint.clientId
        ClientSecret         = ConvertTo-SecureString $endpoint.clientSecret -AsPlainText -Force
        ImportActivity       = $endpoint.importActivity
        ExportActivity       = $endpoint.exportActivity
        InputFolder          = $inbox.FullName
        OutputFolder         = Join-Path $work 'out'
        ReportFolder         = $ReportFolder
        SkipCertificateCheck = $true
    }
    & (Join-Path $PSScriptRoot 'Demo.ps1') @demo
}
finally {
    if ($emulator -and -not $emulator.HasExited) { Stop-Process -Id $emulator.Id -Force -ErrorAction SilentlyContinue }
    Remove-Item -Recurse -Force -Path $work -ErrorAction SilentlyContinue
}
