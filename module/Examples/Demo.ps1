<#
.SYNOPSIS
    The whole recurring-integration round trip, as you would script it against a real environment:
    connect, import three files, wait for their statuses, show the execution errors, drain an export queue
    into a folder with acknowledgements, and write a CSV and an HTML report.
.EXAMPLE
    $secret = Read-Host -AsSecureString 'Client secret'
    ./Demo.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -ClientId 00000000-0000-0000-0000-000000000001 -ClientSecret $secret `
        -ImportActivity 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -ExportActivity 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02 `
        -InputFolder .\in -OutputFolder .\out -ReportFolder .\report
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    [Parameter(Mandatory)] [string] $TenantId,
    [Parameter(Mandatory)] [string] $ClientId,
    [Parameter(Mandatory)] [securestring] $ClientSecret,
    [Parameter(Mandatory)] [guid] $ImportActivity,
    [Parameter(Mandatory)] [guid] $ExportActivity,
    [Parameter(Mandatory)] [string] $InputFolder,
    [Parameter(Mandatory)] [string] $OutputFolder,
    [Parameter(Mandatory)] [string] $ReportFolder,
    [string] $AuthorityHost = 'https://login.microsoftonline.com',
    [string] $EntityName = 'Customer groups',
    [switch] $SkipCertificateCheck
)
$ErrorActionPreference = 'Stop'

# 1. Connect: the token is fetched now, so a wrong secret fails here.
Connect-D365 -Environment $Environment -TenantId $TenantId -ClientId $ClientId -ClientSecret $ClientSecret `
    -AuthorityHost $AuthorityHost -SkipCertificateCheck:$SkipCertificateCheck | Format-List Environment, AuthenticationKind, TokenExpiresOn

# 2. Import: one message per file.
$sent = Get-ChildItem -Path $InputFolder -File | Send-D365Enqueue -ActivityId $ImportActivity -EntityName $EntityName
$sent | Format-Table FileName, MessageId

# 3. Wait until the service has processed every message.
$statuses = $sent | Get-D365MessageStatus -Wait -TimeoutSeconds 300 -PollIntervalSeconds 2
$statuses | Format-Table MessageId, Status

# 4. Why did the others fail?
$errors = @($statuses | Where-Object Status -ne 'Processed' | Get-D365ExecutionError)
$errors | Format-Table MessageId, ErrorMessage -Wrap

# 5. Export: save every waiting file, acknowledging each one only once it is safely on disk.
$received = @(Receive-D365Dequeue -ActivityId $ExportActivity -OutputPath $OutputFolder -Acknowledge)
$received | Format-Table FileName, Length, Acknowledged

# 6. Report: one row per imported file, as CSV and as an HTML page with a status summary.
New-Item -ItemType Directory -Force -Path $ReportFolder | Out-Null
$report = foreach ($message in $sent) {
    $status = $statuses | Where-Object MessageId -eq $message.MessageId
    [pscustomobject]@{
        FileName  = $message.FileName
        MessageId = $message.MessageId
        Status    = $status.Status
        Errors    = @($errors | Where-Object MessageId -eq $message.MessageId).Count
    }
}
$csv = Join-Path $ReportFolder 'import-report.csv'
$report | Export-Csv -Path $csv -NoTypeInformation
$summary = $statuses | Group-Object Status | Select-Object @{ n = 'Status'; e = { $_.Name } }, Count | ConvertTo-Html -Fragment
$details = $report | ConvertTo-Html -Fragment
$html = Join-Path $ReportFolder 'import-report.html'
ConvertTo-Html -Title 'Recurring integrations report' -Body "<h1>Imports</h1>$summary<h2>Files</h2>$details<h2>Exports received</h2>$(@($received).Count) file(s) saved and acknowledged." |
    Set-Content -Path $html -Encoding utf8
"Report: $csv and $html"

Disconnect-D365
