<#
.SYNOPSIS
    Daily status report: asks the service for the current status of every message a day's imports sent, and writes
    it as CSV and as a self-contained HTML page: counts per status with a bar chart, the files with failures first,
    and each failure's errors.
.DESCRIPTION
    Reads the journal CSV that Invoke-D365FolderImport appends to (Date, File, MessageId, Status, ...; a FileName
    column is read as well as File), and the journal of -Date's month where a new month set it aside beside it
    (journal.yyyy-MM.csv), keeps the rows of -Date, and writes status-<yyyy-MM-dd>.csv and
    status-<yyyy-MM-dd>.html to -OutputFolder. The CSV has one row per message: Date, File, MessageId, Status,
    CheckedAt, ExecutionId, Errors (how many execution errors). The HTML page needs nothing but a browser: its style
    and its chart (SVG) are inside it, so it can be mailed or opened offline. A message whose status cannot be read is
    reported with the status 'Unknown' and a warning; so are errors that cannot be read. Returns the two files.
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
# Renamed to the names Get-D365MessageStatus binds, so each status comes back naming its file and sending time.
# When a month ends, the next run renames the journal to <name>.yyyy-MM<extension> (the month of its first line) and begins
# a new one: a day's lines are in its month's journal or in the current one.
$folder = Split-Path -Parent $JournalPath
if (-not $folder) { $folder = '.' }
$month = [IO.Path]::GetFileNameWithoutExtension($JournalPath) + '.' + $Date.ToString('yyyy-MM', [cultureinfo]::InvariantCulture)
$extension = [IO.Path]::GetExtension($JournalPath)
$journals = @(Get-ChildItem -LiteralPath $folder -File | Where-Object { $_.Name.StartsWith($month) -and $_.Name.EndsWith($extension) } |
    ForEach-Object { $_.FullName }) + @($JournalPath)
$sent = @($journals | ForEach-Object { Import-Csv -LiteralPath $_ } | Where-Object { $_.MessageId -and $_.Date.StartsWith($day) } |
    Group-Object MessageId | ForEach-Object { $_.Group[0] } |
    Select-Object MessageId, @{ n = 'FileName'; e = { if ($_.PSObject.Properties['FileName']) { $_.FileName } else { $_.File } } },
        @{ n = 'EnqueuedAt'; e = { $_.Date } })

$current = @()
$errors = @()
if ($sent.Count -gt 0) {
    Connect-D365 -Environment $Environment -TenantId $TenantId -Credential $Credential -AuthorityHost $AuthorityHost `
        -SkipCertificateCheck:$SkipCertificateCheck | Out-Null
    try {
        $current = @($sent | Get-D365MessageStatus -ErrorAction SilentlyContinue -ErrorVariable statusErrors)
        foreach ($failure in $statusErrors) { Write-Warning "Status of $($failure.TargetObject) unknown: $failure" }
        $failed = @($current | Where-Object { $_.IsTerminal -and -not $_.Succeeded })
        $errors = @($failed | Get-D365ExecutionError -ErrorAction SilentlyContinue -ErrorVariable errorErrors)
        foreach ($failure in $errorErrors) { Write-Warning "Errors of $($failure.TargetObject) unknown: $failure" }
    }
    finally {
        Disconnect-D365
    }
}

$report = @(foreach ($row in $sent) {
    $status = $current | Where-Object MessageId -eq ([guid] $row.MessageId)
    [pscustomobject]@{
        Date        = $row.EnqueuedAt
        File        = $row.FileName
        MessageId   = $row.MessageId
        Status      = if ($status) { $status.Status } else { 'Unknown' }
        CheckedAt   = if ($status) { $status.CheckedAt.ToString('yyyy-MM-dd HH:mm:ss', [cultureinfo]::InvariantCulture) } else { '' }
        ExecutionId = if ($status) { $status.ExecutionId } else { '' }
        Errors      = @($errors | Where-Object MessageId -eq ([guid] $row.MessageId)).Count
    }
})

# Failed first (what needs a person), then unknown, then still running, then done; by file within each.
function Get-StatusRank([string] $Status) {
    if ($Status -eq 'Processed') { return 3 }
    if ($Status -eq 'Unknown') { return 1 }
    if (@($current | Where-Object { $_.Status -eq $Status -and $_.IsTerminal }).Count -gt 0) { return 0 }
    2
}
$palette = @('#c62828', '#757575', '#ef8f00', '#2e7d32')  # by rank: failed, unknown, running, processed
function ConvertTo-HtmlText([object] $Value) { [System.Net.WebUtility]::HtmlEncode([string] $Value) }

$groups = @($report | Group-Object Status | Sort-Object { Get-StatusRank $_.Name }, Name)
$rowHeight = 30
$labelWidth = 190
$barSpace = 300
$largest = ($groups | Measure-Object Count -Maximum).Maximum
$bars = for ($i = 0; $i -lt $groups.Count; $i++) {
    $group = $groups[$i]
    $y = $i * $rowHeight
    $width = [math]::Max(2, [math]::Round($barSpace * $group.Count / $largest))
    $colour = $palette[(Get-StatusRank $group.Name)]
    "<text x='$($labelWidth - 8)' y='$($y + 19)' text-anchor='end'>$(ConvertTo-HtmlText $group.Name)</text>" +
    "<rect x='$labelWidth' y='$($y + 5)' width='$width' height='20' rx='3' fill='$colour'/>" +
    "<text x='$($labelWidth + $width + 8)' y='$($y + 19)' class='count'>$($group.Count)</text>"
}
$chartHeight = [math]::Max(1, $groups.Count) * $rowHeight
$chart = "<svg role='img' aria-label='Messages per status' width='$($labelWidth + $barSpace + 60)' height='$chartHeight' " +
    "viewBox='0 0 $($labelWidth + $barSpace + 60) $chartHeight' xmlns='http://www.w3.org/2000/svg'>$($bars -join '')</svg>"

$counts = ($groups | ForEach-Object {
        "<tr><td><span class='dot' style='background:$($palette[(Get-StatusRank $_.Name)])'></span>$(ConvertTo-HtmlText $_.Name)</td><td class='number'>$($_.Count)</td></tr>"
    }) -join ''
$ordered = @($report | Sort-Object { Get-StatusRank $_.Status }, File)
$fileRows = ($ordered | ForEach-Object {
        $class = @('failed', 'unknown', 'running', 'processed')[(Get-StatusRank $_.Status)]
        "<tr class='$class'><td>$(ConvertTo-HtmlText $_.File)</td><td>$(ConvertTo-HtmlText $_.Status)</td><td class='number'>$($_.Errors)</td>" +
        "<td>$(ConvertTo-HtmlText $_.Date)</td><td>$(ConvertTo-HtmlText $_.CheckedAt)</td><td class='id'>$(ConvertTo-HtmlText $_.MessageId)</td></tr>"
    }) -join ''
$failures = ($ordered | Where-Object { (Get-StatusRank $_.Status) -eq 0 } | ForEach-Object {
        $id = [guid] $_.MessageId
        $items = @($errors | Where-Object MessageId -eq $id | ForEach-Object { "<li>$(ConvertTo-HtmlText $_.ErrorMessage)</li>" })
        if ($items.Count -eq 0) { $items = @('<li class="none">The service listed no errors.</li>') }
        "<section class='failure'><h3>$(ConvertTo-HtmlText $_.File) <span>$(ConvertTo-HtmlText $_.Status)</span></h3>" +
        "<p class='id'>Message $id, execution $(ConvertTo-HtmlText $_.ExecutionId)</p><ol>$($items -join '')</ol></section>"
    }) -join ''
if (-not $failures) { $failures = '<p>No file failed.</p>' }
$title = "D365 imports of $day"
$page = @"
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title>
<style>
body { font-family: system-ui, 'Segoe UI', sans-serif; margin: 2rem; color: #212121; background: #ffffff; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #e0e0e0; }
.summary { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
svg text { font-size: 14px; fill: #212121; } svg text.count { font-weight: 600; }
table { border-collapse: collapse; } th, td { padding: .35rem .7rem; text-align: left; border-bottom: 1px solid #eeeeee; }
th { background: #f5f5f5; } td.number { text-align: right; } .id { color: #757575; font-size: .85rem; }
.dot { display: inline-block; width: .7rem; height: .7rem; border-radius: 50%; margin-right: .5rem; }
tr.failed td:nth-child(2) { color: #c62828; font-weight: 600; } tr.processed td:nth-child(2) { color: #2e7d32; }
.failure { border-left: 4px solid #c62828; padding: .2rem 1rem; margin: 1rem 0; background: #fff8f8; }
.failure h3 { margin: .4rem 0; font-size: 1rem; } .failure h3 span { color: #c62828; font-weight: normal; }
</style></head>
<body>
<h1>$title</h1>
<p>$($report.Count) message(s) sent, checked $(Get-Date -Format 'yyyy-MM-dd HH:mm').</p>
<h2>Messages per status</h2>
<div class="summary">$chart<table class="counts"><tr><th>Status</th><th>Count</th></tr>$counts</table></div>
<h2>Files</h2>
<table class="files"><tr><th>File</th><th>Status</th><th>Errors</th><th>Sent</th><th>Checked</th><th>Message</th></tr>$fileRows</table>
<h2>Failures</h2>
$failures
</body></html>
"@

New-Item -ItemType Directory -Force -Path $OutputFolder | Out-Null
$csv = Join-Path $OutputFolder "status-$day.csv"
$html = Join-Path $OutputFolder "status-$day.html"
if ($report.Count -gt 0) { $report | Export-Csv -LiteralPath $csv -NoTypeInformation -Encoding UTF8 }
else { Set-Content -LiteralPath $csv -Value '"Date","File","MessageId","Status","CheckedAt","ExecutionId","Errors"' -Encoding UTF8 }
Set-Content -LiteralPath $html -Value $page -Encoding UTF8
Get-Item -LiteralPath $csv, $html
