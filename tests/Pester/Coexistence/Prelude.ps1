# Dot-sourced by every case of Coexistence.Tests.ps1, each in a fresh pwsh: what a user's script does with the module,
# and what the case reports back (its last output line, as JSON).
param([string] $ContextPath)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$context = Get-Content -LiteralPath $ContextPath -Raw | ConvertFrom-Json
$ready = $context.Ready

function Connect-WithSecret {
    Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId -ClientId $ready.clientId `
        -ClientSecret (ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force) -SkipCertificateCheck -WarningAction SilentlyContinue
}

function Connect-WithCertificate {
    $certificate = [Security.Cryptography.X509Certificates.X509Certificate2]::new($context.CertificatePath, [string] $null)
    Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId -ClientId $ready.clientId `
        -Certificate $certificate -SkipCertificateCheck -WarningAction SilentlyContinue
}

# Enqueue -> status -> errors: one clean file and one the emulator fails with two execution errors.
function Invoke-ImportRoundTrip([string] $Name, $Session) {
    $inbox = Join-Path $context.Work "$Name-in"
    New-Item -ItemType Directory -Path $inbox -Force | Out-Null
    Set-Content -Path (Join-Path $inbox 'good.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nRETAIL,Retail"
    Set-Content -Path (Join-Path $inbox 'bad.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nEMULATOR-ERROR: first`nEMULATOR-ERROR: second"
    $sessionParameter = if ($Session) { @{ Session = $Session } } else { @{} }
    $statuses = Get-ChildItem -LiteralPath $inbox -Filter *.csv | Sort-Object Name |
        Send-D365Enqueue -ActivityId $ready.importActivity -EntityName 'Customer groups' @sessionParameter |
        Get-D365MessageStatus -Wait -TimeoutSeconds 60 -PollIntervalSeconds 1 @sessionParameter
    $errors = @($statuses | Where-Object Status -ne 'Processed' | Get-D365ExecutionError @sessionParameter)
    [pscustomobject]@{ Statuses = @($statuses.Status | Sort-Object); Errors = @($errors.ErrorMessage | Sort-Object) }
}

# The load context of every assembly of ours and of every MSAL and System.Text.Json in the process.
function Get-LoadContext {
    $ours = (Get-Content (Join-Path $context.ModuleFolder 'Dependencies/assemblies.txt') | Where-Object { $_ -notmatch '^#' } |
        ForEach-Object { ($_ -split "`t")[1].Split(',')[0] }) + 'RecurringIntegrations.PowerShell'
    [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object {
        $name = $_.GetName().Name
        ($name -in $ours -and $_.Location -like "$($context.ModuleFolder)*") -or
            $name -in 'Microsoft.Identity.Client', 'Microsoft.IdentityModel.Abstractions', 'System.Text.Json'
    } | ForEach-Object {
        [pscustomobject]@{
            Name     = $_.GetName().Name
            Version  = $_.GetName().Version.ToString()
            Context  = [Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name
            Location = $_.Location
        }
    } | Sort-Object Context, Name, Version
}

function Write-Result($Result) {
    $Result | ConvertTo-Json -Depth 5 -Compress
}
