<#
.SYNOPSIS
    The whole recurring-integration round trip, as you would script it against a real environment:
    connect, import three files, wait for their statuses, show the execution errors, drain an export queue
    into a folder with acknowledgements, and write the status rows and the error rows as CSV and an HTML report.
.EXAMPLE
    $secret = Read-Host -AsSecureString 'Client secret'
    ./Demo.ps1 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
        -ClientId 00000000-0000-0000-0000-000000000001 -ClientSecret $secret `
        -ImportActivity 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -ExportActivity 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02 `
        -InputFolder .\in -OutputFolder .\out -ReportFolder .\report
.EXAMPLE
    # On-premises: the environment's URL with its path, AD FS as the authority host, no tenant.
    ./Demo.ps1 -Environment https://ax.contoso.com/namespaces/AXSF -AuthorityHost https://adfs.contoso.com/adfs `
        -ClientId 00000000-0000-0000-0000-000000000001 -ClientSecret $secret `
        -ImportActivity 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01 -ExportActivity 6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02 `
        -InputFolder .\in -OutputFolder .\out -ReportFolder .\report
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Environment,
    # Microsoft Entra ID's tenant; left out for AD FS (an -AuthorityHost ending in /adfs).
    [string] $TenantId,
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
$tenant = @{}
if ($TenantId) { $tenant.TenantId = $TenantId }
Connect-D365 -Environment $Environment @tenant -ClientId $ClientId -ClientSecret $ClientSecret `
    -AuthorityHost $AuthorityHost -SkipCertificateCheck:$SkipCertificateCheck | Format-Table

# 2. Import: one message per file.
$sent = Get-ChildItem -Path $InputFolder -File | Send-D365Enqueue -ActivityId $ImportActivity -EntityName $EntityName
$sent | Format-Table

# 3. Wait until the service has processed every message. Each status names its file, so it is a report row as it is.
$statuses = $sent | Get-D365MessageStatus -Wait -TimeoutSeconds 300 -PollIntervalSeconds 2
$statuses | Format-Table

# 4. Why did the others fail? Each error names its file too.
$errors = @($statuses | Where-Object Status -ne 'Processed' | Get-D365ExecutionError)
$errors | Format-Table

# 5. Export: save every waiting file, acknowledging each one only once it is safely on disk.
$received = @(Receive-D365Dequeue -ActivityId $ExportActivity -OutputPath $OutputFolder -Acknowledge)
$received | Format-Table

# 6. Report: the status rows and the error rows as they are (no join), as CSV and as an HTML page.
New-Item -ItemType Directory -Force -Path $ReportFolder | Out-Null
$csv = Join-Path $ReportFolder 'import-report.csv'
$statuses | Export-Csv -Path $csv -NoTypeInformation -Encoding UTF8
$errorsCsv = Join-Path $ReportFolder 'import-errors.csv'
$errors | Select-Object FileName, MessageId, Index, ErrorMessage | Export-Csv -Path $errorsCsv -NoTypeInformation -Encoding UTF8
$summary = $statuses | Group-Object Status | Select-Object @{ n = 'Status'; e = { $_.Name } }, Count | ConvertTo-Html -Fragment
$files = $statuses | Select-Object FileName, Status, EnqueuedAt, CheckedAt, MessageId, ExecutionId | ConvertTo-Html -Fragment
$details = $errors | Select-Object FileName, Index, ErrorMessage | ConvertTo-Html -Fragment
$html = Join-Path $ReportFolder 'import-report.html'
ConvertTo-Html -Title 'Recurring integrations report' -Body ("<h1>Imports</h1>$summary<h2>Files</h2>$files<h2>Errors</h2>$details" +
    "<h2>Exports received</h2>$(@($received).Count) file(s) saved and acknowledged.") |
    Set-Content -Path $html -Encoding utf8
"Report: $csv, $errorsCsv and $html"

Disconnect-D365
