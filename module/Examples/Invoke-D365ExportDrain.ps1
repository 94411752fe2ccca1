<#
.SYNOPSIS
    Scheduled export drain: saves every file waiting on a recurring export job into a folder, acknowledges each one
    once it is on disk, and logs one line per file.
.DESCRIPTION
    A file is acknowledged only after it is saved completely, so a run that breaks off loses nothing: what was not
    acknowledged is delivered again (the service redelivers after 30 minutes). A file that could not be downloaded
    is logged, left unacknowledged, and the script ends with an error after draining the rest.
    Store the app credential once, as the user the task runs as:
        Get-Credential -UserName <client id> | Export-Clixml C:\d365\app.credential.xml
.PARAMETER Credential
    The app registration: user name = client id, password = client secret.
.PARAMETER LogPath
    A log file to append the lines to as well (they are always written to the output).
.PARAMETER SkipCertificateCheck
    For tests against the local emulator only.
.EXAMPLE
    ./Invoke-D365ExportDrain.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -Credential (Import-Clixml C:\d365\app.credential.xml) -ActivityId 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02 `
        -OutputPath C:\d365\exports -LogPath C:\d365\export-drain.log
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [string] $TenantId,
    [Parameter(Mandatory)] [pscredential] $Credential,
    [Parameter(Mandatory)] [string] $ActivityId,
    [Parameter(Mandatory)] [string] $OutputPath,
    [string] $LogPath,
    [string] $AuthorityHost = 'https://login.microsoftonline.com',
    [switch] $SkipCertificateCheck
)
$ErrorActionPreference = 'Stop'

function Write-LogLine([string] $Text) {
    $line = (Get-Date).ToString('yyyy-MM-dd HH:mm:ss', [cultureinfo]::InvariantCulture) + ' ' + $Text
    if ($LogPath) { Add-Content -LiteralPath $LogPath -Value $line -Encoding UTF8 }
    $line
}

Connect-D365 -Environment $Environment -TenantId $TenantId -Credential $Credential -AuthorityHost $AuthorityHost `
    -SkipCertificateCheck:$SkipCertificateCheck | Out-Null
try {
    $count = 0
    # Each message is logged as soon as its file is saved; a failed download is collected and the drain goes on.
    Receive-D365Dequeue -ActivityId $ActivityId -OutputPath $OutputPath -Acknowledge -ErrorAction SilentlyContinue -ErrorVariable failures |
        ForEach-Object {
            $count++
            Write-LogLine "saved $($_.Path) ($($_.Length) bytes) correlation $($_.CorrelationId) acknowledged $($_.Acknowledged)"
        }
    foreach ($failure in $failures) { Write-LogLine "FAILED $($failure.TargetObject): $failure" }
    Write-LogLine "$count file(s) saved to $OutputPath, $(@($failures).Count) failed"
    if (@($failures).Count -gt 0) { throw "$(@($failures).Count) export message(s) could not be saved; they stay on the queue." }
}
finally {
    Disconnect-D365
}
