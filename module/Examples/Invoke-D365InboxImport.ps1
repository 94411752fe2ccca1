<#
.SYNOPSIS
    Scheduled folder import: sends every file of an inbox folder to a recurring import job and sorts it into
    'processed' or 'failed' by the outcome the service reports. No file is ever lost, and none is ever sent twice.
.DESCRIPTION
    Each run first settles the files of earlier runs that are still waiting in <inbox>\pending, then sends the
    files of -InboxPath (sub-folders and the journal are left alone):
    - uploaded and ended Processed: moved to <inbox>\processed;
    - uploaded and the service says it failed (ProcessedWithErrors, PreProcessingError, ...): moved to <inbox>\failed,
      with '<name>.error.txt' beside it holding the status and the execution errors;
    - uploaded but not finished within -TimeoutSeconds: moved to <inbox>\pending with '<name>.messageid' beside it;
      the next run asks for its status and moves it on. It is never sent again;
    - the upload's answer was lost (the service may or may not have the file): moved to <inbox>\unconfirmed, never
      sent again automatically: check the job's message history, then move it back to the inbox if it is not there;
    - the upload was refused or could not start (bad activity id, file in use, network down): stays in the inbox and
      is tried again next run.
    Every sent or settled message gets a row in the journal CSV (Date, File, MessageId, Status), which
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

# Where a sent file goes once its status is known; a file still in progress waits in 'pending' with its message id.
function Set-Outcome([string] $File, [guid] $MessageId, [string] $Status) {
    if ($Status -eq 'Processed') { return Move-IntoFolder $File $processedFolder }
    if ($failedStatuses -contains $Status) {
        $errors = @(Get-D365ExecutionError -MessageId $MessageId -ErrorAction SilentlyContinue)
        $movedTo = Move-IntoFolder $File $failedFolder
        $details = "Message $MessageId ended $Status.`n" + ($errors | Format-List | Out-String -Width 250)
        Set-Content -LiteralPath ($movedTo + '.error.txt') -Value $details -Encoding UTF8
        return $movedTo
    }
    if ((Split-Path $File -Parent) -ne $pendingFolder) {
        $File = Move-IntoFolder $File $pendingFolder
        Set-Content -LiteralPath ($File + '.messageid') -Value $MessageId -Encoding ASCII
    }
    Write-Warning "$(Split-Path $File -Leaf) was sent as message $MessageId and is not finished ($Status): it waits in 'pending' for the next run."
    $File
}

function Add-JournalRow([string] $File, [guid] $MessageId, [string] $Status) {
    [pscustomobject]@{
        Date      = (Get-Date).ToString('yyyy-MM-dd HH:mm:ss', [cultureinfo]::InvariantCulture)
        File      = Split-Path $File -Leaf
        MessageId = $MessageId
        Status    = $Status
    } | Export-Csv -LiteralPath $journal -Append -NoTypeInformation -Encoding UTF8
}

$processedFolder = Join-Path $InboxPath 'processed'
$failedFolder = Join-Path $InboxPath 'failed'
$pendingFolder = Join-Path $InboxPath 'pending'
$unconfirmedFolder = Join-Path $InboxPath 'unconfirmed'
New-Item -ItemType Directory -Force -Path $processedFolder, $failedFolder, $pendingFolder, $unconfirmedFolder | Out-Null
$pendingFolder = (Resolve-Path -LiteralPath $pendingFolder).ProviderPath
# Relative to the PowerShell location, as every other path here.
$journal = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($JournalPath)
$waiting = @(Get-ChildItem -LiteralPath $pendingFolder -File -Filter '*.messageid')
$files = @(Get-ChildItem -LiteralPath $InboxPath -File -Filter $Filter | Where-Object FullName -ne $journal | Sort-Object Name)
if ($files.Count -eq 0 -and $waiting.Count -eq 0) { return }

Connect-D365 -Environment $Environment -TenantId $TenantId -Credential $Credential -AuthorityHost $AuthorityHost `
    -SkipCertificateCheck:$SkipCertificateCheck | Out-Null
try {
    # 1. Files of earlier runs whose processing had not finished.
    foreach ($marker in $waiting) {
        $file = $marker.FullName.Substring(0, $marker.FullName.Length - '.messageid'.Length)
        $messageId = [guid] (Get-Content -LiteralPath $marker.FullName -Raw).Trim()
        $status = Get-D365MessageStatus -MessageId $messageId -ErrorAction SilentlyContinue -ErrorVariable statusError
        if (-not $status) { Write-Warning "Status of $messageId unknown, it stays in 'pending': $statusError"; continue }
        $movedTo = Set-Outcome $file $messageId $status.Status
        if ($status.IsTerminal) {
            Remove-Item -LiteralPath $marker.FullName
            Add-JournalRow $file $messageId $status.Status
        }
        [pscustomobject]@{ File = Split-Path $file -Leaf; MessageId = $messageId; Status = $status.Status; MovedTo = $movedTo }
    }

    # 2. New files. A file is moved only after its upload succeeded; each sent one is journalled at once.
    if ($files.Count -eq 0) { return }
    $enqueue = @{ ActivityId = $ActivityId }
    if ($EntityName) { $enqueue.EntityName = $EntityName }
    $sent = @($files | Send-D365Enqueue @enqueue -ErrorAction SilentlyContinue -ErrorVariable uploadErrors)
    foreach ($message in $sent) { Add-JournalRow $message.Path $message.MessageId 'Enqueued' }
    foreach ($failure in $uploadErrors) {
        if ($failure.FullyQualifiedErrorId -like 'EnqueueOutcomeUnknown*') {
            $movedTo = Move-IntoFolder $failure.TargetObject $unconfirmedFolder
            Write-Warning "$(Split-Path $movedTo -Leaf) may or may not have reached the service: moved to 'unconfirmed' so it is not sent twice. Check the job's message history. $failure"
        }
        else {
            Write-Warning "$($failure.TargetObject) was not sent and stays in the inbox: $failure"
        }
    }
    if ($sent.Count -eq 0) { return }

    # 3. Wait for the outcome and sort the files.
    $statuses = @($sent | Get-D365MessageStatus -Wait -TimeoutSeconds $TimeoutSeconds -PollIntervalSeconds $PollIntervalSeconds `
        -ErrorAction SilentlyContinue -ErrorVariable waitErrors)
    foreach ($failure in $waitErrors) { Write-Warning $failure.ToString() }
    foreach ($message in $sent) {
        $status = $statuses | Where-Object MessageId -eq $message.MessageId | Select-Object -Last 1
        $outcome = 'Unknown'
        if ($status) { $outcome = $status.Status }
        $movedTo = Set-Outcome $message.Path $message.MessageId $outcome
        if ($status -and $status.IsTerminal) { Add-JournalRow $message.Path $message.MessageId $outcome }
        [pscustomobject]@{ File = $message.FileName; MessageId = $message.MessageId; Status = $outcome; MovedTo = $movedTo }
    }
}
finally {
    Disconnect-D365
}
