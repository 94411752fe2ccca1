#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The emulator as a product (issue 23, "Must show"): './build.ps1 -Task EmulatorTool' packs the .NET tool, which is
# installed with 'dotnet tool install --global' into a clean home folder, started with a scenario file through the
# companion module, and used by a plain Invoke-RestMethod script that trusts the exported certificate instead of
# skipping the check. On Linux and macOS .NET keeps the CurrentUser Root store under $HOME/.dotnet, so trusting a
# certificate there needs no root and touches only the scratch home.

BeforeAll {
    $script:repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:powershell = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-emulator-tool-' + [guid]::NewGuid().ToString('N'))
    $script:cleanHome = Join-Path $work 'home'
    New-Item -ItemType Directory -Path $cleanHome | Out-Null

    # Sets or removes an environment variable. (A .NET call given $null would set it to "", and a dotnet CLI that
    # finds DOTNET_CLI_HOME empty restores packages into a relative .nuget folder.)
    function Set-EnvironmentVariable([string] $Name, [string] $Value) {
        if ($Value) { Set-Item -Path "Env:$Name" -Value $Value } else { Remove-Item -Path "Env:$Name" -ErrorAction SilentlyContinue }
    }

    # Runs a command with HOME (and the dotnet CLI's home) in the scratch folder and no XDG folders.
    function Invoke-InCleanHome([scriptblock] $Command) {
        $variables = 'HOME', 'USERPROFILE', 'DOTNET_CLI_HOME', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME'
        $saved = @{}
        foreach ($variable in $variables) {
            $saved[$variable] = [Environment]::GetEnvironmentVariable($variable)
            Set-EnvironmentVariable $variable $(if ($variable -notlike 'XDG_*') { $cleanHome })
        }
        try { & $Command }
        finally {
            foreach ($variable in $variables) { Set-EnvironmentVariable $variable $saved[$variable] }
        }
    }

    # An empty variable counts as unset: .NET removes a variable set to the empty string, so it cannot be put back as one.
    $script:environmentBefore = Get-ChildItem Env: | Where-Object { $_.Name -in 'HOME', 'DOTNET_CLI_HOME', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME' -and $_.Value } |
        ForEach-Object { "$($_.Name)=$($_.Value)" }
    $script:build = & $powershell -NoProfile -NonInteractive -File (Join-Path $repositoryRoot 'build.ps1') -Task EmulatorTool 2>&1
    $script:buildExit = $LASTEXITCODE
    $script:install = Invoke-InCleanHome {
        $output = dotnet tool install --global --prerelease --add-source (Join-Path $repositoryRoot 'out/tool') RecurringIntegrations.Emulator 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output -join "`n") }
    }
    $script:tool = Join-Path $cleanHome ('.dotnet/tools/d365-emulator' + $(if ($IsWindows) { '.exe' } else { '' }))
}

AfterAll {
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'the emulator as a .NET tool' {
    It 'is packed by the EmulatorTool task and installs with dotnet tool install --global into a clean home' {
        $buildExit | Should -Be 0 -Because ($build -join "`n")
        $install.ExitCode | Should -Be 0 -Because $install.Output
        $tool | Should -Exist
        $help = & $tool --help
        $LASTEXITCODE | Should -Be 0
        $help -join "`n" | Should -Match '--export-certificate PATH'
        $help -join "`n" | Should -Match '--scenario FILE'
    }

    It 'leaves the home folders of the session as they were' {
        $after = Get-ChildItem Env: | Where-Object { $_.Name -in 'HOME', 'DOTNET_CLI_HOME', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME' -and $_.Value } |
            ForEach-Object { "$($_.Name)=$($_.Value)" }
        $after | Should -Be $environmentBefore
    }

    # Windows asks the user before a certificate enters any Root store, which a test cannot answer.
    It 'serves a plain Invoke-RestMethod script through a scenario, trusted by its exported certificate' -Skip:$IsWindows {
        $exports = New-Item -ItemType Directory -Path (Join-Path $work 'exports')
        Set-Content -Path (Join-Path $exports 'rates.csv') -Value "CURRENCY,RATE`nEUR,1.08"
        $scenario = Join-Path $work 'throttled.json'
        Set-Content -Path $scenario -Value @'
{
  "processingDelayMs": 300,
  "faults": [
    { "operation": "Enqueue", "kind": "429", "times": 1 },
    { "operation": "GetMessageStatus", "kind": "500", "times": 1 }
  ]
}
'@
        $certificate = Join-Path $work 'emulator.cer'
        $client = Join-Path $work 'client.ps1'
        Set-Content -Path $client -Value @'
param([string] $ReadyFile, [string] $Certificate, [string] $Work)
$ErrorActionPreference = 'Stop'
$ready = Get-Content $ReadyFile -Raw | ConvertFrom-Json
$environment = $ready.environment
$result = [ordered]@{}

# Before the certificate is trusted, https fails.
try { Invoke-RestMethod "$environment/" | Out-Null; $result.untrusted = 'connected' }
catch { $result.untrusted = $_.Exception.GetType().Name }
$store = [Security.Cryptography.X509Certificates.X509Store]::new('Root', 'CurrentUser')
$store.Open('ReadWrite')
$store.Add([Security.Cryptography.X509Certificates.X509Certificate2]::new($Certificate))
$store.Close()

# From here on every call checks the certificate; -MaximumRetryCount rides out the scenario's 429 and 500.
$retry = @{ MaximumRetryCount = 3; RetryIntervalSec = 1 }
$token = Invoke-RestMethod -Method Post "$($ready.authorityHost)/$($ready.tenantId)/oauth2/v2.0/token" -Body @{
    grant_type = 'client_credentials'; client_id = $ready.clientId; client_secret = $ready.clientSecret; scope = "$environment/.default" }
$headers = @{ Authorization = "Bearer $($token.access_token)" }
function Invoke-Action([string] $Action, [hashtable] $Body) {
    Invoke-RestMethod -Method Post "$environment/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.$Action" `
        -Headers $headers -ContentType 'application/json' -Body ($Body | ConvertTo-Json) @retry
}
# A package execution may first be "not found" (the service does that sometimes): poll until it is final.
function Wait-Execution([string] $ExecutionId) {
    while ($true) {
        try { $status = (Invoke-Action GetExecutionSummaryStatus @{ executionId = $ExecutionId }).value } catch { $status = 'NotFoundYet' }
        if ($status -in 'Succeeded', 'PartiallySucceeded', 'Failed', 'Canceled') { return $status }
        Start-Sleep -Milliseconds 200
    }
}

# Import: enqueue, status, jobstatus.
$file = Join-Path $Work 'groups.csv'
Set-Content -Path $file -Value "CUSTGROUP,NAME`n10,Wholesale"
$messageId = Invoke-RestMethod -Method Post "$environment/api/connector/enqueue/$($ready.importActivity)?entity=Customer%20groups" `
    -Headers $headers -InFile $file @retry
do { Start-Sleep -Milliseconds 200; $status = (Invoke-Action GetMessageStatus @{ messageId = $messageId }).value }
while ($status -notin 'Processed', 'ProcessedWithErrors', 'PreProcessingError', 'PostProcessingFailed')
$result.status = $status
$result.jobState = (Invoke-RestMethod "$environment/api/connector/jobstatus/$($ready.importActivity)?jobId=$messageId" -Headers $headers).DataJobStatus.DataJobState

# Export: dequeue, download, ack (the dequeue answer, unchanged, is the ack's body).
$dequeue = Invoke-WebRequest "$environment/api/connector/dequeue/$($ready.exportActivity)" -Headers $headers @retry
$message = $dequeue.Content | ConvertFrom-Json
Invoke-RestMethod $message.DownloadLocation -Headers $headers -OutFile (Join-Path $Work 'rates-downloaded.csv')
$result.downloaded = (Get-Content (Join-Path $Work 'rates-downloaded.csv') -Raw).Trim()
Invoke-RestMethod -Method Post "$environment/api/connector/ack/$($ready.exportActivity)" -Headers $headers -ContentType 'application/json' -Body $dequeue.Content | Out-Null
$result.emptyAfterAck = (Invoke-WebRequest "$environment/api/connector/dequeue/$($ready.exportActivity)" -Headers $headers).StatusCode

# Package export: ExportToPackage, wait, GetExportedPackageUrl, download from storage without the token.
$exportId = (Invoke-Action ExportToPackage @{ definitionGroupId = 'Emulator package project'; packageName = 'groups'; executionId = ''; reExecute = $false; legalEntityId = 'usmf' }).value
$result.export = Wait-Execution $exportId
$package = Join-Path $Work 'groups.zip'
Invoke-RestMethod (Invoke-Action GetExportedPackageUrl @{ executionId = $exportId }).value -OutFile $package

# Package import of that package: GetAzureWriteUrl, PUT to storage, ImportFromPackage, wait.
$blob = (Invoke-Action GetAzureWriteUrl @{ uniqueFileName = 'groups' }).value | ConvertFrom-Json
Invoke-RestMethod -Method Put $blob.BlobUrl -Headers @{ 'x-ms-blob-type' = 'BlockBlob' } -InFile $package | Out-Null
$importId = (Invoke-Action ImportFromPackage @{ packageUrl = $blob.BlobUrl; definitionGroupId = 'Groups import'; executionId = ''; execute = $true; overwrite = $true; legalEntityId = 'usmf' }).value
$result.import = Wait-Execution $importId
$result | ConvertTo-Json -Compress
'@

        Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
        $emulator = Start-D365Emulator -Command $tool -ArgumentList '--scenario', $scenario, '--export-certificate', $certificate, '--export-folder', $exports
        try {
            $run = Invoke-InCleanHome {
                $output = & $powershell -NoProfile -NonInteractive -File $client -ReadyFile (Join-Path $emulator.WorkFolder 'ready.json') -Certificate $certificate -Work $work 2>&1
                [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output -join "`n") }
            }
            $messages = Invoke-RestMethod "$($emulator.Ready.environment)/emulator/stats" -SkipCertificateCheck
        }
        finally {
            Stop-D365Emulator $emulator
        }

        $run.ExitCode | Should -Be 0 -Because $run.Output
        $result = ($run.Output -split "`n")[-1] | ConvertFrom-Json
        $result.untrusted | Should -Be 'HttpRequestException'
        $result.status | Should -Be 'Processed'
        $result.jobState | Should -Be 5
        $result.downloaded | Should -Be "CURRENCY,RATE`nEUR,1.08"
        $result.emptyAfterAck | Should -Be 204
        $result.export | Should -Be 'Succeeded'
        $result.import | Should -Be 'Succeeded'
        # The scenario's 429 (enqueue) and 500 (status) were answered, and the script went on.
        $messages.throttled | Should -Be 1
        Join-Path $cleanHome '.dotnet/corefx/cryptography/x509stores/root' | Should -Exist
    }
}
