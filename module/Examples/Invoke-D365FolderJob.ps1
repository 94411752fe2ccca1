<#
.SYNOPSIS
    Scheduled folder job: imports an inbox folder and/or drains an export queue into a folder, with the crash-safe
    commands Invoke-D365FolderImport and Invoke-D365FolderExport. For Windows Task Scheduler, a systemd timer or cron.
.DESCRIPTION
    Signs in with an app credential saved by Export-Clixml (user name = client id, password = client secret), then
    runs Invoke-D365FolderImport on -ImportPath and Invoke-D365FolderExport on -ExportPath, writes their rows, and
    throws at the end when any file failed, was left unconfirmed, or any error occurred, so the scheduler records a
    failed run. A run killed at any moment (a time limit, a reboot, kill -9) is safe to start again from the top:
    the commands' journals make sure no file is sent twice and no export is saved twice.
    Save the credential once, as the account the task runs as (on Windows Export-Clixml encrypts it for that account;
    elsewhere protect the file: chmod 600):
        Get-Credential -UserName <client id> | Export-Clixml /etc/d365/app.credential.xml
.PARAMETER CredentialPath
    The Export-Clixml file of the app credential.
.PARAMETER ImportPath
    The inbox folder to import (needs -ImportActivityId).
.PARAMETER ExportPath
    The folder to drain the export queue into (needs -ExportActivityId).
.PARAMETER SkipCertificateCheck
    For tests against the local emulator only.
.EXAMPLE
    # Windows Task Scheduler: every 15 minutes, as the account that saved the credential.
    $job = 'C:\d365\Invoke-D365FolderJob.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com ' +
        '-CredentialPath C:\d365\app.credential.xml -ImportPath C:\d365\inbox -ImportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 ' +
        "-EntityName 'Customer groups' -ExportPath C:\d365\exports -ExportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02"
    $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument "-NoProfile -NonInteractive -Command & $job"
    $trigger = New-ScheduledTaskTrigger -Once -At 0:00 -RepetitionInterval (New-TimeSpan -Minutes 15)
    # A run still going after 3 hours is stopped; the next one picks up where it left off.
    $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Hours 3) -MultipleInstances IgnoreNew
    Register-ScheduledTask -TaskName 'D365 folders' -Action $action -Trigger $trigger -Settings $settings
.EXAMPLE
    # systemd timer (Linux): /etc/systemd/system/d365-folders.service
    [Unit]
    Description=D365 folder import and export
    [Service]
    Type=oneshot
    User=d365
    TimeoutStartSec=3h
    ExecStart=/usr/bin/pwsh -NoProfile -NonInteractive -File /opt/d365/Invoke-D365FolderJob.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com -CredentialPath /etc/d365/app.credential.xml -ImportPath /srv/d365/inbox -ImportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -EntityName "Customer groups" -ExportPath /srv/d365/exports -ExportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02

    # /etc/systemd/system/d365-folders.timer, then: systemctl enable --now d365-folders.timer
    [Unit]
    Description=D365 folder import and export every 15 minutes
    [Timer]
    OnCalendar=*:0/15
    Persistent=true
    [Install]
    WantedBy=timers.target
.EXAMPLE
    # cron (crontab -e as the account that saved the credential): every 15 minutes; flock skips a run while the last one is busy.
    */15 * * * * flock -n /tmp/d365-folders.lock pwsh -NoProfile -NonInteractive -File /opt/d365/Invoke-D365FolderJob.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com -CredentialPath /etc/d365/app.credential.xml -ImportPath /srv/d365/inbox -ImportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -EntityName 'Customer groups' >> /var/log/d365-folders.log 2>&1
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [string] $TenantId,
    [Parameter(Mandatory)] [string] $CredentialPath,
    [string] $ImportPath,
    [guid] $ImportActivityId,
    [string] $EntityName,
    [string] $ExportPath,
    [guid] $ExportActivityId,
    [int] $TimeoutSeconds = 600,
    [int] $PollIntervalSeconds = 15,
    [string] $AuthorityHost = 'https://login.microsoftonline.com',
    [switch] $SkipCertificateCheck
)
$ErrorActionPreference = 'Stop'
if (-not $ImportPath -and -not $ExportPath) { throw 'Give -ImportPath with -ImportActivityId, -ExportPath with -ExportActivityId, or both.' }
if ($ImportPath -and -not $PSBoundParameters.ContainsKey('ImportActivityId')) { throw '-ImportPath needs -ImportActivityId.' }
if ($ExportPath -and -not $PSBoundParameters.ContainsKey('ExportActivityId')) { throw '-ExportPath needs -ExportActivityId.' }

Connect-D365 -Environment $Environment -TenantId $TenantId -Credential (Import-Clixml -LiteralPath $CredentialPath) `
    -AuthorityHost $AuthorityHost -SkipCertificateCheck:$SkipCertificateCheck | Out-Null
try {
    $problems = @()
    if ($ImportPath) {
        $import = @{ Path = $ImportPath; ActivityId = $ImportActivityId; TimeoutSeconds = $TimeoutSeconds; PollIntervalSeconds = $PollIntervalSeconds }
        if ($EntityName) { $import.EntityName = $EntityName }
        # Errors are collected, not fatal: one bad file must not stop the others.
        Invoke-D365FolderImport @import -ErrorAction SilentlyContinue -ErrorVariable importErrors | ForEach-Object {
            if ($_.Outcome -in 'Failed', 'Unconfirmed') { $problems += "$($_.FileName): $($_.Outcome)" }
            $_
        }
        $problems += @($importErrors | ForEach-Object { $_.ToString() })
    }
    if ($ExportPath) {
        Invoke-D365FolderExport -Path $ExportPath -ActivityId $ExportActivityId -ErrorAction SilentlyContinue -ErrorVariable exportErrors
        $problems += @($exportErrors | ForEach-Object { $_.ToString() })
    }
    if ($problems.Count -gt 0) { throw "$($problems.Count) problem(s): $($problems -join '; ')" }
}
finally {
    Disconnect-D365
}
