<#
.SYNOPSIS
    Azure Automation runbook: imports a folder into a recurring import job with Invoke-D365FolderImport and fails the
    job when any file failed or was left unconfirmed.
.DESCRIPTION
    Signs in with the Automation account's managed identity, or with -CredentialName: an Automation credential asset
    whose user name is the app registration's client id and whose password is its secret.
    Azure Automation stops a job after 3 hours and may start it again from the top; so does a Hybrid Runbook Worker
    reboot. That is safe: Invoke-D365FolderImport settles what the stopped run left (in -Path's 'sending' and 'pending'
    folders) and never sends a file twice. -Path is a folder the worker can rename files in (an Azure Files share
    mounted on a Hybrid Runbook Worker, or a local folder). Writes one row per file handled, and throws at the end when
    a file ended in 'failed' or 'unconfirmed' or an error occurred, so the job shows as Failed. Files still processing
    wait in 'pending' for the next run. Import the RecurringIntegrations module into the Automation account first.
.PARAMETER Environment
    The environment URL, for example https://contoso.operations.dynamics.com.
.PARAMETER ActivityId
    The recurring import job's activity id.
.PARAMETER Path
    The inbox folder.
.PARAMETER EntityName
    The entity's display name as in the data project, for example 'Customer groups'. Leave out for data package jobs.
.PARAMETER CredentialName
    The Automation credential asset to sign in with (needs -TenantId). Without it, the managed identity is used.
.PARAMETER SkipCertificateCheck
    For tests against the local emulator only.
.EXAMPLE
    # Runbook parameters: sign in with the Automation account's system-assigned managed identity.
    ./Invoke-D365FolderRunbook.ps1 -Environment https://contoso.operations.dynamics.com `
        -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -EntityName 'Customer groups' -Path 'Z:\d365\inbox'
.EXAMPLE
    ./Invoke-D365FolderRunbook.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -CredentialName 'D365 import app' -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -Path 'Z:\d365\inbox'
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [guid] $ActivityId,
    [Parameter(Mandatory)] [string] $Path,
    [string] $EntityName,
    [string] $CredentialName,
    [string] $TenantId,
    [string] $AuthorityHost = 'https://login.microsoftonline.com',
    [int] $TimeoutSeconds = 3600,
    [int] $PollIntervalSeconds = 15,
    [switch] $SkipCertificateCheck
)
$ErrorActionPreference = 'Stop'

$connect = @{ Environment = $Environment; SkipCertificateCheck = $SkipCertificateCheck }
if ($CredentialName) {
    if (-not $TenantId) { throw 'Signing in with a credential asset needs -TenantId.' }
    $connect.TenantId = $TenantId
    $connect.Credential = Get-AutomationPSCredential -Name $CredentialName
    $connect.AuthorityHost = $AuthorityHost
}
else {
    $connect.ManagedIdentity = $true
}
Connect-D365 @connect | Out-Null
try {
    $import = @{ Path = $Path; ActivityId = $ActivityId; TimeoutSeconds = $TimeoutSeconds; PollIntervalSeconds = $PollIntervalSeconds }
    if ($EntityName) { $import.EntityName = $EntityName }
    $rows = @(Invoke-D365FolderImport @import -ErrorAction SilentlyContinue -ErrorVariable importErrors)
    foreach ($row in $rows) { "$($row.FileName): $($row.Outcome) $($row.Status) $($row.MessageId)".TrimEnd() }
    $bad = @($rows | Where-Object Outcome -in 'Failed', 'Unconfirmed')
    if ($bad.Count -gt 0 -or @($importErrors).Count -gt 0) {
        throw "$($bad.Count) of $($rows.Count) file(s) failed or are unconfirmed ($(($bad.FileName) -join ', ')); $(@($importErrors).Count) error(s): $($importErrors -join '; ')"
    }
}
finally {
    Disconnect-D365
}
