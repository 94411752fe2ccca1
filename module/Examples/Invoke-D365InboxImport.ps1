<#
.SYNOPSIS
    Scheduled folder import: sends every file of an inbox folder to a recurring import job and sorts it into
    'processed' or 'failed' by the outcome the service reports.
.DESCRIPTION
    For each file of -InboxPath (sub-folders and the journal are left alone):
    - uploaded and ended Processed: moved to <inbox>\processed;
    - uploaded and the service says it failed (ProcessedWithErrors, PreProcessingError, ...): moved to <inbox>\failed,
      with '<name>.error.txt' beside it holding the status and the execution errors;
    - the upload failed, or the outcome is not known yet (timeout, connection lost): the file stays in the inbox, so
      nothing is ever lost or deleted. A file that was sent but whose outcome is unknown is sent again by the next
      run: the warning and the journal name its message id so you can check it first.
    Every sent message is appended to the journal CSV (Date, File, MessageId, Status), which
    Get-D365DailyStatusReport.ps1 reads.
    Store the app credential once, as the user the task runs as (Export-Clixml encrypts it for that user on Windows):
        Get-Credential -UserName <client id> | Export-Clixml C:\d365\app.credential.xml
.PARAMETER Credential
    The app registration: user name = client id, password = client secret.
.PARAMETER JournalPath
    The journal CSV. Default: journal.csv in the inbox.
.PARAMETER SkipCertificateCheck
    For tests against the local emulator only.
.EXAMPLE
    ./Invoke-D365InboxImport.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -Credential (Import-Clixml C:\d365\app.credential.xml) -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 `
        -EntityName 'Customer groups' -InboxPath C:\d365\inbox
.EXAMPLE
    # Every 15 minutes with Windows Task Scheduler.
    $action = New-ScheduledTaskAction -Execute powershell.exe -Argument '-NoProfile -File C:\d365\Invoke-D365InboxImport.ps1 -Environment ...'
    Register-ScheduledTask -TaskName 'D365 inbox import' -Action $action -Trigger (New-ScheduledTaskTrigger -Once -At 0:00 -RepetitionInterval (New-TimeSpan -Minutes 15))
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [string] $TenantId,
    [Parameter(Mandatory)] [pscredential] $Credential,
    [Parameter(Mandatory)] [string] $ActivityId,
    [Parameter(Mandatory)] [string] $InboxPath,
    [string] $EntityName,
    [string] $Filter = '*',
    [string] $JournalPath = (Join-Path $InboxPath 'journal.csv'),
    [string] $AuthorityHost = 'https://login.microsoftonline.com',
    [int] $TimeoutSeconds = 1800,
    [int] $PollIntervalSeconds = 15,
    [switch] $SkipCertificateCheck
)
$ErrorActionPreference = 'Stop'
$failedStatuses = 'ProcessedWithErrors', 'PreProcessingError', 'PostProcessingFailed', 'PostProcessingError'

# A file of the same name may have come in before: keep both, the newer one stamped with the time it was moved.
function Move-IntoFolder([string] $File, [string] $Folder) {
    $target = Join-Path $Folder (Split-Path $File -Leaf)
    if (Test-Path -LiteralPath $target) {
        $name = [IO.Path]::GetFileNameWithoutExtension($File) + '.' + (Get-Date -Format 'yyyyMMdd-HHmmss') + [IO.Path]::GetExtension($File)
        $target = Join-Path $Folder $name
    }
    Move-Item -LiteralPath $File -Destination $target
    $target
}

$processedFolder = Join-Path $InboxPath 'processed'
$failedFolder = Join-Path $InboxPath 'failed'
New-Item -ItemType Directory -Force -Path $processedFolder, $failedFolder | Out-Null
# Relative to the PowerShell location, as every other path here.
$journal = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($JournalPath)
$files = @(Get-ChildItem -LiteralPath $InboxPath -File -Filter $Filter | Where-Object FullName -ne $journal | Sort-Object Name)
if ($files.Count -eq 0) { return }

Connect-D365 -Environment $Environment -TenantId $TenantId -Credential $Credential -AuthorityHost $AuthorityHost `
    -SkipCertificateCheck:$SkipCertificateCheck | Out-Null
$sent = @()
$statuses = @()
try {
    $enqueue = @{ ActivityId = $ActivityId }
    if ($EntityName) { $enqueue.EntityName = $EntityName }
    $sent = @($files | Send-D365Enqueue @enqueue -ErrorAction SilentlyContinue -ErrorVariable uploadErrors)
    foreach ($failure in $uploadErrors) { Write-Warning "$($failure.TargetObject) was not sent and stays in the inbox: $failure" }
    if ($sent.Count -gt 0) {
        $statuses = @($sent | Get-D365MessageStatus -Wait -TimeoutSeconds $TimeoutSeconds -PollIntervalSeconds $PollIntervalSeconds `
            -ErrorAction SilentlyContinue -ErrorVariable waitErrors)
        foreach ($failure in $waitErrors) { Write-Warning $failure.ToString() }
    }

    foreach ($message in $sent) {
        $status = $statuses | Where-Object MessageId -eq $message.MessageId | Select-Object -Last 1
        $outcome = 'Unknown'
        if ($status) { $outcome = $status.Status }
        $movedTo = $null
        try {
            if ($outcome -eq 'Processed') {
                $movedTo = Move-IntoFolder $message.Path $processedFolder
            }
            elseif ($failedStatuses -contains $outcome) {
                $errors = @(Get-D365ExecutionError -MessageId $message.MessageId -ErrorAction SilentlyContinue)
                $movedTo = Move-IntoFolder $message.Path $failedFolder
                $details = "Message $($message.MessageId) ended $outcome.`n" + ($errors | Format-List | Out-String -Width 250)
                Set-Content -LiteralPath ($movedTo + '.error.txt') -Value $details -Encoding UTF8
            }
            else {
                Write-Warning "$($message.FileName) was sent as message $($message.MessageId) but its outcome is not known yet ($outcome): it stays in the inbox and is sent again next run unless you move it."
            }
        }
        catch {
            Write-Warning "$($message.FileName) ($outcome) could not be moved and stays in the inbox: $_"
        }
        [pscustomobject]@{ File = $message.FileName; MessageId = $message.MessageId; Status = $outcome; MovedTo = $movedTo }
    }
}
finally {
    # Written even when the run breaks off: a message id is the only handle on what was sent.
    $rows = foreach ($message in $sent) {
        $status = $statuses | Where-Object MessageId -eq $message.MessageId | Select-Object -Last 1
        $outcome = 'Unknown'
        if ($status) { $outcome = $status.Status }
        [pscustomobject]@{
            Date      = $message.EnqueuedAt.LocalDateTime.ToString('yyyy-MM-dd HH:mm:ss', [cultureinfo]::InvariantCulture)
            File      = $message.FileName
            MessageId = $message.MessageId
            Status    = $outcome
        }
    }
    if ($rows) { $rows | Export-Csv -LiteralPath $journal -Append -NoTypeInformation -Encoding UTF8 }
    Disconnect-D365
}
