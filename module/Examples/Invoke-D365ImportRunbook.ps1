<#
.SYNOPSIS
    Azure Automation runbook: imports every file of a folder into a recurring import job, reports each outcome, and
    fails the job when any file did not end Processed.
.DESCRIPTION
    Signs in with the Automation account's managed identity, or with -CredentialName: an Automation credential asset
    whose user name is the app registration's client id and whose password is its secret. Outside Azure Automation,
    pass -Credential instead.
    Uploads the files of -Path in name order (a local folder, or an Azure Files share mounted on a Hybrid Runbook
    Worker), waits until every message has ended, writes one report line per file (and a CSV with -ReportPath), and
    throws at the end when any upload failed or any message did not end Processed, so the job shows as Failed.
    Import the RecurringIntegrations module into the Automation account first.
.PARAMETER Environment
    The environment URL, for example https://contoso.operations.dynamics.com.
.PARAMETER ActivityId
    The recurring import job's activity id.
.PARAMETER Path
    The folder whose files are imported.
.PARAMETER EntityName
    The entity's display name as in the data project, for example 'Customer groups'. Leave out for data package jobs.
.PARAMETER CredentialName
    The Automation credential asset to sign in with (needs -TenantId). Without it, the managed identity is used.
.PARAMETER Credential
    A credential to sign in with when not running in Azure Automation (needs -TenantId).
.PARAMETER SkipCertificateCheck
    For tests against the local emulator only.
.EXAMPLE
    # Runbook parameters: sign in with the Automation account's system-assigned managed identity.
    ./Invoke-D365ImportRunbook.ps1 -Environment https://contoso.operations.dynamics.com `
        -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -EntityName 'Customer groups' -Path 'Z:\d365\customer-groups'
.EXAMPLE
    ./Invoke-D365ImportRunbook.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -CredentialName 'D365 import app' -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -Path 'Z:\d365\customer-groups'
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [string] $ActivityId,
    [Parameter(Mandatory)] [string] $Path,
    [string] $EntityName,
    [string] $CredentialName,
    [pscredential] $Credential,
    [string] $TenantId,
    [string] $AuthorityHost = 'https://login.microsoftonline.com',
    [string] $ReportPath,
    [int] $TimeoutSeconds = 3600,
    [int] $PollIntervalSeconds = 15,
    [switch] $SkipCertificateCheck
)
$ErrorActionPreference = 'Stop'

$connect = @{ Environment = $Environment; SkipCertificateCheck = $SkipCertificateCheck }
if ($CredentialName) {
    if (-not (Get-Command Get-AutomationPSCredential -ErrorAction SilentlyContinue)) {
        throw 'Get-AutomationPSCredential exists only in Azure Automation; elsewhere pass -Credential.'
    }
    $Credential = Get-AutomationPSCredential -Name $CredentialName
}
if ($Credential) {
    if (-not $TenantId) { throw 'Signing in with a credential needs -TenantId.' }
    $connect.TenantId = $TenantId
    $connect.Credential = $Credential
    $connect.AuthorityHost = $AuthorityHost
}
else {
    $connect.ManagedIdentity = $true
}
Connect-D365 @connect | Out-Null

try {
    $files = @(Get-ChildItem -LiteralPath $Path -File | Sort-Object Name)
    "$($files.Count) file(s) in $Path"
    $enqueue = @{ ActivityId = $ActivityId }
    if ($EntityName) { $enqueue.EntityName = $EntityName }
    # One file that cannot be sent must not stop the others: its error is collected and reported below.
    $sent = @($files | Send-D365Enqueue @enqueue -ErrorAction SilentlyContinue -ErrorVariable uploadErrors)
    $statuses = @()
    if ($sent.Count -gt 0) {
        $statuses = @($sent | Get-D365MessageStatus -Wait -TimeoutSeconds $TimeoutSeconds -PollIntervalSeconds $PollIntervalSeconds `
            -ErrorAction SilentlyContinue -ErrorVariable waitErrors)
        foreach ($failure in $waitErrors) { Write-Warning $failure.ToString() }
    }

    $report = foreach ($message in $sent) {
        $status = $statuses | Where-Object MessageId -eq $message.MessageId | Select-Object -Last 1
        $outcome = 'Unknown'
        if ($status) { $outcome = $status.Status }
        $errorText = ''
        if ($outcome -ne 'Processed') {
            $errorText = (@(Get-D365ExecutionError -MessageId $message.MessageId -ErrorAction SilentlyContinue).ErrorMessage) -join ' | '
        }
        [pscustomobject]@{ File = $message.FileName; MessageId = $message.MessageId; Status = $outcome; Errors = $errorText }
    }
    foreach ($failure in $uploadErrors) {
        $report = @($report) + [pscustomobject]@{ File = [string] $failure.TargetObject; MessageId = $null; Status = 'NotSent'; Errors = $failure.ToString() }
    }

    foreach ($row in $report) { "$($row.File): $($row.Status) $($row.MessageId) $($row.Errors)".TrimEnd() }
    if ($ReportPath) { $report | Export-Csv -Path $ReportPath -NoTypeInformation -Encoding UTF8 }

    $notProcessed = @($report | Where-Object Status -ne 'Processed')
    if ($notProcessed.Count -gt 0) {
        throw "$($notProcessed.Count) of $(@($report).Count) file(s) did not end Processed: $(($notProcessed.File) -join ', ')"
    }
}
finally {
    Disconnect-D365
}
