<#
.SYNOPSIS
    Azure Automation runbook: imports a folder into a recurring import job with Invoke-D365FolderImport and fails the
    job when any file failed or was left unconfirmed.
.DESCRIPTION
    Signs in with one of:
    - the Automation account's managed identity (the default);
    - -CredentialName: an Automation credential asset whose user name is the app registration's client id and whose
      password is its secret;
    - -KeyVaultName with -ClientId and -SecretName (the app's client secret) or -CertificateName (the app's certificate,
      with its private key, kept in Key Vault): read from Key Vault with the Automation account's managed identity
      (Az.Accounts and Az.KeyVault, which Automation's runtime provides; grant the identity 'Key Vault Secrets User').

    Output stays small at any size, for Azure Automation keeps at most 1 MiB per job stream: one summary line per run
    and one line per failed or unconfirmed file (the first 100; the rest are in the inbox's 'failed' and 'unconfirmed'
    folders and journal.csv). One line per file handled goes to the verbose stream only with -Verbose; the module's own
    line per HTTP call is not written (run the command on a Hybrid Worker or locally to see it). Progress records are
    off. The job fails (throws) when a file ended in 'failed' or 'unconfirmed' or an error occurred; files still
    processing wait in 'pending' for the next run.

    Cloud sandbox or Hybrid Runbook Worker: Invoke-D365FolderImport needs a folder that lasts from one run to the next,
    for its journal, its 'pending' and 'unconfirmed' files and the inbox itself. An Azure cloud sandbox has no such
    folder: its disk is a temporary one that goes with the job, and it cannot mount an SMB share. So run this runbook
    on a Hybrid Runbook Worker (a VM or an Arc-enabled server you manage), with -Path a local folder or a mounted Azure
    Files share. In a cloud sandbox, use the cmdlets that need no folder between runs (Send-D365Enqueue of files you
    fetch in the same job, Get-D365MessageStatus, Receive-D365Dequeue into $env:TEMP and upload from there in the same
    job). Azure Automation stops a job after 3 hours (fair share in a cloud sandbox) and may start it again from the
    top; so does a Hybrid Worker reboot. That is safe: Invoke-D365FolderImport settles what the stopped run left (in
    -Path's 'sending' and 'pending' folders) and never sends a file twice.

    Import the RecurringIntegrations module into the Automation account first: ./build.ps1 -Task AutomationZip writes
    the zip to import (Modules > Add a module, runtime 5.1 or 7.4).
.PARAMETER Environment
    The environment URL, for example https://contoso.operations.dynamics.com.
.PARAMETER ActivityId
    The recurring import job's activity id.
.PARAMETER Path
    The inbox folder (on a Hybrid Runbook Worker).
.PARAMETER EntityName
    The entity's display name as in the data project, for example 'Customer groups'. Leave out for data package jobs.
.PARAMETER CredentialName
    The Automation credential asset to sign in with (needs -TenantId).
.PARAMETER KeyVaultName
    The Key Vault holding the app's client secret (-SecretName) or certificate (-CertificateName); needs -TenantId and
    -ClientId.
.PARAMETER SecretName
    The Key Vault secret holding the app's client secret.
.PARAMETER CertificateName
    The Key Vault certificate of the app (its private key is read as the certificate's secret).
.PARAMETER ClientId
    The app registration's client id, with -KeyVaultName.
.PARAMETER TenantId
    The Microsoft Entra tenant, with -CredentialName or -KeyVaultName.
.PARAMETER FailureLines
    How many failed or unconfirmed files get a line of their own (default 100); the summary counts them all.
.PARAMETER SkipCertificateCheck
    For tests against the local emulator only.
.EXAMPLE
    # Runbook parameters: sign in with the Automation account's system-assigned managed identity.
    ./Invoke-D365FolderRunbook.ps1 -Environment https://contoso.operations.dynamics.com `
        -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -EntityName 'Customer groups' -Path 'Z:\d365\inbox'
.EXAMPLE
    # An Automation credential asset (user name: the client id; password: the client secret).
    ./Invoke-D365FolderRunbook.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -CredentialName 'D365 import app' -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -Path 'Z:\d365\inbox'
.EXAMPLE
    # The app's certificate from Key Vault, read with the Automation account's managed identity.
    ./Invoke-D365FolderRunbook.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -KeyVaultName contoso-d365 -CertificateName d365-import-app -ClientId 11111111-2222-3333-4444-555555555555 `
        -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -Path 'Z:\d365\inbox'
#>
[Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidUsingPlainTextForPassword', 'CredentialName', Justification = 'The name of an Automation credential asset, not a secret.')]
[CmdletBinding(DefaultParameterSetName = 'ManagedIdentity')]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [guid] $ActivityId,
    [Parameter(Mandatory)] [string] $Path,
    [string] $EntityName,
    [Parameter(Mandatory, ParameterSetName = 'CredentialAsset')] [string] $CredentialName,
    [Parameter(Mandatory, ParameterSetName = 'KeyVaultSecret')]
    [Parameter(Mandatory, ParameterSetName = 'KeyVaultCertificate')] [string] $KeyVaultName,
    [Parameter(Mandatory, ParameterSetName = 'KeyVaultSecret')] [string] $SecretName,
    [Parameter(Mandatory, ParameterSetName = 'KeyVaultCertificate')] [string] $CertificateName,
    [Parameter(Mandatory, ParameterSetName = 'KeyVaultSecret')]
    [Parameter(Mandatory, ParameterSetName = 'KeyVaultCertificate')] [string] $ClientId,
    [Parameter(Mandatory, ParameterSetName = 'CredentialAsset')]
    [Parameter(Mandatory, ParameterSetName = 'KeyVaultSecret')]
    [Parameter(Mandatory, ParameterSetName = 'KeyVaultCertificate')] [string] $TenantId,
    [string] $AuthorityHost = 'https://login.microsoftonline.com',
    [int] $TimeoutSeconds = 3600,
    [int] $PollIntervalSeconds = 15,
    [int] $FailureLines = 100,
    [switch] $SkipCertificateCheck
)
$ErrorActionPreference = 'Stop'
# Automation stores each progress record when the runbook's progress logging is on: none are written.
$ProgressPreference = 'SilentlyContinue'

$connect = @{ Environment = $Environment; SkipCertificateCheck = $SkipCertificateCheck }
switch ($PSCmdlet.ParameterSetName) {
    'ManagedIdentity' {
        $connect.ManagedIdentity = $true
    }
    'CredentialAsset' {
        $connect.Credential = Get-AutomationPSCredential -Name $CredentialName
    }
    default {
        # Key Vault, read with the Automation account's managed identity.
        Connect-AzAccount -Identity | Out-Null
        $connect.ClientId = $ClientId
        if ($SecretName) {
            $connect.ClientSecret = (Get-AzKeyVaultSecret -VaultName $KeyVaultName -Name $SecretName).SecretValue
        }
        else {
            # A Key Vault certificate's private key is the secret of the same name: the PFX, base64-encoded.
            $pfx = [Convert]::FromBase64String((Get-AzKeyVaultSecret -VaultName $KeyVaultName -Name $CertificateName -AsPlainText))
            $connect.Certificate = [Security.Cryptography.X509Certificates.X509Certificate2]::new($pfx, [string] $null,
                [Security.Cryptography.X509Certificates.X509KeyStorageFlags]::EphemeralKeySet)
        }
    }
}
if ($PSCmdlet.ParameterSetName -ne 'ManagedIdentity') {
    $connect.TenantId = $TenantId
    $connect.AuthorityHost = $AuthorityHost
}
Connect-D365 @connect | Out-Null
try {
    $started = [datetime]::UtcNow
    $import = @{ Path = $Path; ActivityId = $ActivityId; TimeoutSeconds = $TimeoutSeconds; PollIntervalSeconds = $PollIntervalSeconds }
    if ($EntityName) { $import.EntityName = $EntityName }
    # -Verbose:$false: the module's line per HTTP call would pass the 1 MiB stream limit on a large inbox.
    $counts = @{}
    $bad = [Collections.Generic.List[object]]::new()
    Invoke-D365FolderImport @import -Verbose:$false -ErrorAction SilentlyContinue -ErrorVariable importErrors | ForEach-Object {
        $counts[$_.Outcome] = 1 + [int] $counts[$_.Outcome]
        if ($_.Outcome -in 'Failed', 'Unconfirmed') { $bad.Add($_) }
        Write-Verbose "$($_.FileName): $($_.Outcome) $($_.Status) $($_.MessageId)".TrimEnd()
    }
    $handled = 0
    foreach ($count in $counts.Values) { $handled += $count }
    $outcomes = ($counts.Keys | Sort-Object | ForEach-Object { "$($counts[$_]) $_" }) -join ', '
    $errorCount = @($importErrors).Count
    'Imported {0}: {1} file(s) handled ({2}), {3} error(s), in {4:0} s.' -f $Path, $handled, $(if ($outcomes) { $outcomes } else { 'none' }),
        $errorCount, ([datetime]::UtcNow - $started).TotalSeconds
    foreach ($file in ($bad | Select-Object -First $FailureLines)) { "$($file.Outcome): $($file.FileName) $($file.Status) $($file.MessageId)".TrimEnd() }
    foreach ($record in (@($importErrors) | Select-Object -First $FailureLines)) { "Error: $record" }
    $more = [Math]::Max(0, $bad.Count - $FailureLines) + [Math]::Max(0, $errorCount - $FailureLines)
    if ($more -gt 0) { "... and $more more: see the 'failed' and 'unconfirmed' folders and journal.csv in $Path." }
    if ($bad.Count -gt 0 -or $errorCount -gt 0) {
        throw "$($bad.Count) of $handled file(s) failed or are unconfirmed and $errorCount error(s) occurred; the lines above name them."
    }
}
finally {
    Disconnect-D365
}
