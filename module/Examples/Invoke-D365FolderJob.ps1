<#
.SYNOPSIS
    Scheduled folder job: imports an inbox folder and/or drains an export queue into a folder, with the crash-safe
    commands Invoke-D365FolderImport and Invoke-D365FolderExport. For Windows Task Scheduler, a systemd timer or cron.
.DESCRIPTION
    Signs in with the app registration's client id and its client secret, read with Get-Secret from a
    Microsoft.PowerShell.SecretManagement vault, then runs Invoke-D365FolderImport on -ImportPath and
    Invoke-D365FolderExport on -ExportPath, writes their rows, and throws at the end when any file failed, was left
    unconfirmed, or any error occurred, so the scheduler records a failed run. A run killed at any moment (a time
    limit, a reboot, kill -9) is safe to start again from the top: the commands' journals make sure no file is sent
    twice and no export is saved twice.
    Keep the secret once, as the account the task runs as, in a vault that encrypts it on every platform: the
    SecretStore vault (or Azure Key Vault through Az.KeyVault's vault extension, or the Windows Credential Manager):
        Install-PSResource Microsoft.PowerShell.SecretManagement, Microsoft.PowerShell.SecretStore
        Register-SecretVault -Name D365 -ModuleName Microsoft.PowerShell.SecretStore -DefaultVault
        # An unattended job cannot type the store's password: the store's key stays in the account's profile.
        Set-SecretStoreConfiguration -Scope CurrentUser -Authentication None -Interaction None
        Set-Secret -Vault D365 -Name 'D365 import app' -Secret (Read-Host -AsSecureString 'Client secret')
    Do not save it with Export-Clixml: outside Windows that file holds the secret unencrypted.
.PARAMETER ClientId
    The app registration's client id.
.PARAMETER SecretName
    The name of the secret (the app's client secret) in the SecretManagement vault.
.PARAMETER Vault
    The vault holding it; the default vault when left out.
.PARAMETER ImportPath
    The inbox folder to import (needs -ImportActivityId).
.PARAMETER ExportPath
    The folder to drain the export queue into (needs -ExportActivityId).
.PARAMETER SkipCertificateCheck
    For tests against the local emulator only.
.EXAMPLE
    # Windows Task Scheduler: every 15 minutes, as the account that keeps the secret.
    $job = 'C:\d365\Invoke-D365FolderJob.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com ' +
        '-ClientId 11111111-2222-3333-4444-555555555555 -SecretName ''D365 import app'' -ImportPath C:\d365\inbox -ImportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 ' +
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
    ExecStart=/usr/bin/pwsh -NoProfile -NonInteractive -File /opt/d365/Invoke-D365FolderJob.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com -ClientId 11111111-2222-3333-4444-555555555555 -SecretName "D365 import app" -ImportPath /srv/d365/inbox -ImportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -EntityName "Customer groups" -ExportPath /srv/d365/exports -ExportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02

    # /etc/systemd/system/d365-folders.timer, then: systemctl enable --now d365-folders.timer
    [Unit]
    Description=D365 folder import and export every 15 minutes
    [Timer]
    OnCalendar=*:0/15
    Persistent=true
    [Install]
    WantedBy=timers.target
.EXAMPLE
    # cron (crontab -e as the account that keeps the secret): every 15 minutes; flock skips a run while the last one is busy.
    */15 * * * * flock -n /tmp/d365-folders.lock pwsh -NoProfile -NonInteractive -File /opt/d365/Invoke-D365FolderJob.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com -ClientId 11111111-2222-3333-4444-555555555555 -SecretName 'D365 import app' -ImportPath /srv/d365/inbox -ImportActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -EntityName 'Customer groups' >> /var/log/d365-folders.log 2>&1
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [string] $TenantId,
    [Parameter(Mandatory)] [string] $ClientId,
    [Parameter(Mandatory)] [string] $SecretName,
    [string] $Vault,
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

if (-not (Get-Command Get-Secret -ErrorAction SilentlyContinue)) {
    throw 'Get-Secret was not found: Install-PSResource Microsoft.PowerShell.SecretManagement (and a vault, for example Microsoft.PowerShell.SecretStore), then keep the client secret with Set-Secret, as this script''s help shows.'
}
$secret = @{ Name = $SecretName }
if ($Vault) { $secret.Vault = $Vault }
Connect-D365 -Environment $Environment -TenantId $TenantId -ClientId $ClientId -ClientSecret (Get-Secret @secret) `
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
