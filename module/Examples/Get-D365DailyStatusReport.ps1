<#
.SYNOPSIS
    Daily status report: asks the service for the current status of every message a day's imports sent, and writes
    it as CSV and as an HTML page with a summary per status.
.DESCRIPTION
    Reads the journal CSV that Invoke-D365FolderImport appends to (Date, File, MessageId, Status, ...), keeps the rows
    of -Date, and writes status-<yyyy-MM-dd>.csv and status-<yyyy-MM-dd>.html to -OutputFolder. A message whose status
    cannot be read is reported with the status 'Unknown' and a warning. Returns the two files.
.PARAMETER Credential
    The app registration: user name = client id, password = client secret.
.PARAMETER Date
    The day to report on. Default: today.
.PARAMETER SkipCertificateCheck
    For tests against the local emulator only.
.EXAMPLE
    ./Get-D365DailyStatusReport.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -Credential (Import-Clixml C:\d365\app.credential.xml) -JournalPath C:\d365\inbox\journal.csv `
        -OutputFolder C:\d365\reports -Date (Get-Date).AddDays(-1)
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [string] $TenantId,
    [Parameter(Mandatory)] [pscredential] $Credential,
    [Parameter(Mandatory)] [string] $JournalPath,
    [Parameter(Mandatory)] [string] $OutputFolder,
    [datetime] $Date = (Get-Date),
    [string] $AuthorityHost = 'https://login.microsoftonline.com',
    [switch] $SkipCertificateCheck
)
$ErrorActionPreference = 'Stop'

# The journal's dates are written with the invariant culture, so they compare as text whatever the machine's culture.
$day = $Date.ToString('yyyy-MM-dd', [cultureinfo]::InvariantCulture)
# A message settled by a later run has a later row too: one row per message, its first (the day it was sent).
# Lines without a message id (a file about to be sent, or one that never got an id) name no message.
$sent = @(Import-Csv -LiteralPath $JournalPath | Where-Object { $_.MessageId -and $_.Date.StartsWith($day) } |
    Group-Object MessageId | ForEach-Object { $_.Group[0] })

$current = @()
if ($sent.Count -gt 0) {
    Connect-D365 -Environment $Environment -TenantId $TenantId -Credential $Credential -AuthorityHost $AuthorityHost `
        -SkipCertificateCheck:$SkipCertificateCheck | Out-Null
    try {
        # The journal rows bind to -MessageId by property name.
        $current = @($sent | Get-D365MessageStatus -ErrorAction SilentlyContinue -ErrorVariable statusErrors)
        foreach ($failure in $statusErrors) { Write-Warning "Status of $($failure.TargetObject) unknown: $failure" }
    }
    finally {
        Disconnect-D365
    }
}

$report = foreach ($row in $sent) {
    $status = $current | Where-Object { $_.MessageId -eq [guid] $row.MessageId }
    $now = 'Unknown'
    if ($status) { $now = $status.Status }
    [pscustomobject]@{ Date = $row.Date; File = $row.File; MessageId = $row.MessageId; Status = $now }
}

New-Item -ItemType Directory -Force -Path $OutputFolder | Out-Null
$csv = Join-Path $OutputFolder "status-$day.csv"
$html = Join-Path $OutputFolder "status-$day.html"
$report | Export-Csv -LiteralPath $csv -NoTypeInformation -Encoding UTF8
$summary = $report | Group-Object Status | Sort-Object Name | Select-Object @{ n = 'Status'; e = { $_.Name } }, Count | ConvertTo-Html -Fragment
$details = $report | ConvertTo-Html -Fragment
ConvertTo-Html -Title "D365 imports of $day" -Body "<h1>D365 imports of $day</h1><h2>Summary</h2>$summary<h2>Messages ($($sent.Count))</h2>$details" |
    Set-Content -LiteralPath $html -Encoding UTF8
Get-Item -LiteralPath $csv, $html
