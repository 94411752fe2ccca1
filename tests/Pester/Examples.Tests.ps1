#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The scripts shipped in module/Examples, run as a user would run them, against the emulator.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:examples = Join-Path $repositoryRoot 'module/Examples'
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-examples-' + [guid]::NewGuid().ToString('N'))
    $exportFolder = Join-Path $work 'exports'
    New-Item -ItemType Directory -Path $exportFolder -Force | Out-Null
    '<Export><Row>1</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export1.xml')
    '<Export><Row>2</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export2.xml')

    # The app's certificate, as Key Vault would hold it: its public part registered with the emulator.
    $rsa = [Security.Cryptography.RSA]::Create(2048)
    $request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=RecurringIntegrations examples test', $rsa,
        [Security.Cryptography.HashAlgorithmName]::SHA256, [Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $script:appCertificate = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddMinutes(-5), [DateTimeOffset]::UtcNow.AddDays(1))
    $publicCertificate = Join-Path $work 'app.cer'
    [IO.File]::WriteAllBytes($publicCertificate, $appCertificate.Export('Cert'))

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200', '--export-folder', $exportFolder,
        '--client-certificate', $publicCertificate
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force

    $ready = $emulator.Ready
    $script:credential = [pscredential]::new($ready.clientId, (ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force))
    # What every scheduled script needs to reach the emulator instead of a real environment.
    $script:target = @{
        Environment          = $ready.environment
        AuthorityHost        = $ready.authorityHost
        TenantId             = $ready.tenantId
        Credential           = $credential
        SkipCertificateCheck = $true
        WarningAction        = 'SilentlyContinue'
    }
    $script:import = $ready.importActivity
    $script:export = $ready.exportActivity
    # What the scheduled job needs to reach the emulator instead of a real environment; its secret comes from
    # SecretManagement's Get-Secret, which a stand-in below answers.
    $script:job = @{
        Environment          = $ready.environment
        AuthorityHost        = $ready.authorityHost
        TenantId             = $ready.tenantId
        ClientId             = $ready.clientId
        SecretName           = 'D365 import app'
        Vault                = 'D365'

        SkipCertificateCheck = $true
        PollIntervalSeconds  = 1
        TimeoutSeconds       = 60
        WarningAction        = 'SilentlyContinue'
    }
}

AfterAll {
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Invoke-D365FolderJob.ps1' {
    BeforeAll {
        # Stands in for Microsoft.PowerShell.SecretManagement's Get-Secret: the client secret of that name in that vault.
        $secretValue = $credential.Password
        Set-Item Function:global:Get-Secret -Value ({
                param([string] $Name, [string] $Vault)
                if ($Name -ne 'D365 import app' -or $Vault -ne 'D365') { throw "No secret named $Name in vault $Vault" }
                $secretValue
            }.GetNewClosure())
        $script:inbox = Join-Path $work 'inbox'
        $script:exports = Join-Path $work 'exports-saved'
        New-Item -ItemType Directory -Path $inbox | Out-Null
        'CUSTOMERGROUPID' + "`n" + 'WHOLESALE' | Set-Content (Join-Path $inbox 'good-1.csv')
        'CUSTOMERGROUPID' + "`n" + 'RETAIL' | Set-Content (Join-Path $inbox 'good-2.csv')
        'CUSTOMERGROUPID' + "`n" + 'EMULATOR-ERROR: Customer group TOO-LONG is too long' | Set-Content (Join-Path $inbox 'bad.csv')
        # Written long enough ago that the default settle time lets them go at once.
        Get-ChildItem $inbox -File | ForEach-Object { $_.LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-5) }
        $script:rows = [Collections.Generic.List[object]]::new()
        $script:failure = $null
        try {
            & (Join-Path $examples 'Invoke-D365FolderJob.ps1') @job -ImportPath $inbox -ImportActivityId $import -EntityName 'Customer groups' `
                -ExportPath $exports -ExportActivityId $export | ForEach-Object { $rows.Add($_) }
        }
        catch {
            $script:failure = $_
        }
    }

    It 'sorts the imported files into processed and failed, with the errors beside the failed one' {
        (Get-ChildItem (Join-Path $inbox 'processed') -File).Name | Sort-Object | Should -Be @('good-1.csv', 'good-2.csv')
        (Get-ChildItem (Join-Path $inbox 'failed') -File).Name | Sort-Object | Should -Be @('bad.csv', 'bad.csv.error.txt')
        Get-Content (Join-Path $inbox 'failed/bad.csv.error.txt') -Raw | Should -Match 'ProcessedWithErrors[\s\S]*TOO-LONG is too long'
        @($rows | Where-Object { $_.PSObject.TypeNames[0] -eq 'RecurringIntegrations.FolderImportResult' }).Count | Should -Be 3
    }

    It 'fails the scheduled run because one file failed, naming it' {
        $failure | Should -Not -BeNullOrEmpty
        $failure.ToString() | Should -Match 'bad.csv: Failed'
    }

    It 'drains the export queue into its folder and acknowledges each file' {
        $saved = @($rows | Where-Object { $_.PSObject.TypeNames[0] -eq 'RecurringIntegrations.FolderExportResult' })
        $saved.Count | Should -Be 2
        $saved.Acknowledged | Should -Be @($true, $true)
        @(Get-ChildItem $exports -File | Where-Object Name -notlike 'journal.csv*').Count | Should -Be 2
    }

    It 'journals every transition in a CSV that Import-Csv reads' {
        $journal = @(Import-Csv (Join-Path $inbox 'journal.csv'))
        @($journal | Where-Object Event -eq 'Sent').Count | Should -Be 3
        ($journal | Where-Object File -eq 'bad.csv' | Select-Object -Last 1).Event | Should -Be 'Failed'
        @(Import-Csv (Join-Path $exports 'journal.csv') | Where-Object Event -eq 'Acknowledged').Count | Should -Be 2
    }

    It 'runs clean the next time, with nothing new' {
        { & (Join-Path $examples 'Invoke-D365FolderJob.ps1') @job -ImportPath $inbox -ImportActivityId $import -ExportPath $exports -ExportActivityId $export } |
            Should -Not -Throw
    }

    It 'says how to install SecretManagement when Get-Secret is missing, and never reads an Export-Clixml file' {
        Remove-Item Function:Get-Secret
        try {
            { & (Join-Path $examples 'Invoke-D365FolderJob.ps1') @job -ImportPath $inbox -ImportActivityId $import } |
                Should -Throw '*Install-PSResource Microsoft.PowerShell.SecretManagement*'
        }
        finally {
            $secretValue = $credential.Password
            Set-Item Function:global:Get-Secret -Value ({ param([string] $Name, [string] $Vault) $secretValue }.GetNewClosure())
        }
        Get-Content (Join-Path $examples 'Invoke-D365FolderJob.ps1') -Raw | Should -Not -Match 'Import-Clixml|Export-Clixml \S'
    }

    It 'shows how to schedule it with Task Scheduler, a systemd timer and cron in its help' {
        $help = Get-Help (Join-Path $examples 'Invoke-D365FolderJob.ps1') -Full | Out-String -Width 400
        $help | Should -Match 'Register-ScheduledTask'
        $help | Should -Match 'OnCalendar='
        $help | Should -Match '\*/15 \* \* \* \*'
    }
}

Describe 'Invoke-D365FolderImport -WhatIf' {
    BeforeAll {
        Remove-Item Function:Get-Secret -ErrorAction SilentlyContinue
    }

    It 'sends nothing and changes nothing in the inbox' {
        $folder = Join-Path $work 'whatif'
        New-Item -ItemType Directory -Path $folder | Out-Null
        'CUSTOMERGROUPID' + "`n" + 'W' | Set-Content (Join-Path $folder 'w.csv')
        Connect-D365 -Environment $emulator.Ready.environment -TenantId $emulator.Ready.tenantId -Credential $credential `
            -AuthorityHost $emulator.Ready.authorityHost -SkipCertificateCheck -WarningAction SilentlyContinue | Out-Null
        try {
            $before = @(Get-ChildItem $folder -Recurse).Count
            Invoke-D365FolderImport -Path $folder -ActivityId $import -WhatIf | Should -BeNullOrEmpty
            @(Get-ChildItem $folder -Recurse).Count | Should -Be $before
            Test-Path (Join-Path $folder 'w.csv') | Should -BeTrue
        }
        finally {
            Disconnect-D365
        }
    }
}

Describe 'Get-D365DailyStatusReport.ps1' {
    It 'reads the journal of Invoke-D365FolderImport (the page itself: Reports.Tests.ps1)' {
        $reports = Join-Path $work 'reports'
        $files = & (Join-Path $examples 'Get-D365DailyStatusReport.ps1') @target -JournalPath (Join-Path $inbox 'journal.csv') `
            -OutputFolder $reports -WarningVariable warnings
        $day = (Get-Date).ToString('yyyy-MM-dd', [cultureinfo]::InvariantCulture)
        $files.Name | Should -Be @("status-$day.csv", "status-$day.html")
        # The three messages the folder job sent.
        $rows = @(Import-Csv (Join-Path $reports "status-$day.csv"))
        $rows.Count | Should -Be 3
        @($rows | Where-Object Status -eq 'Processed').Count | Should -Be 2
        @($rows | Where-Object Status -eq 'ProcessedWithErrors').Count | Should -Be 1
        $warnings.Count | Should -Be 0
    }
}

Describe 'Invoke-D365FolderRunbook.ps1' {
    BeforeAll {
        $script:runbookFolder = Join-Path $work 'runbook'
        New-Item -ItemType Directory -Path $runbookFolder | Out-Null
        'CUSTOMERGROUPID' + "`n" + 'WHOLESALE' | Set-Content (Join-Path $runbookFolder 'a.csv')
        Get-ChildItem $runbookFolder -File | ForEach-Object { $_.LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-5) }
        $script:runbook = @{
            Environment          = $emulator.Ready.environment
            ActivityId           = $import
            EntityName           = 'Customer groups'
            Path                 = $runbookFolder
            PollIntervalSeconds  = 1
            TimeoutSeconds       = 60
            SkipCertificateCheck = $true
            WarningAction        = 'SilentlyContinue'
        }
    }

    It 'signs in with the managed identity by default and succeeds when every file ends Processed' {
        # What Azure Automation sets for its managed identity endpoint.
        $env:IDENTITY_ENDPOINT = $emulator.Ready.managedIdentityEndpoint
        $env:IDENTITY_HEADER = $emulator.Ready.managedIdentityHeader
        try {
            $output = & (Join-Path $examples 'Invoke-D365FolderRunbook.ps1') @runbook
        }
        finally {
            Remove-Item Env:IDENTITY_ENDPOINT, Env:IDENTITY_HEADER
        }
        # A summary line, no line per file without -Verbose.
        $output | Should -HaveCount 1
        $output | Should -Match '1 file\(s\) handled \(1 Processed\), 0 error\(s\)'
        Test-Path (Join-Path $runbookFolder 'processed/a.csv') | Should -BeTrue
    }

    It 'signs in with an Automation credential asset and throws when a file failed' {
        'CUSTOMERGROUPID' + "`n" + 'EMULATOR-ERROR: bad row' | Set-Content (Join-Path $runbookFolder 'b.csv')
        (Get-Item (Join-Path $runbookFolder 'b.csv')).LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-5)
        # Stands in for the Azure Automation command, which exists only in a runbook.
        $asset = $credential
        Set-Item Function:global:Get-AutomationPSCredential -Value ({
                param([string] $Name)
                if ($Name -ne 'D365 app') { throw "No credential asset named $Name" }
                $asset
            }.GetNewClosure())
        try {
            { & (Join-Path $examples 'Invoke-D365FolderRunbook.ps1') @runbook -TenantId $emulator.Ready.tenantId `
                    -AuthorityHost $emulator.Ready.authorityHost -CredentialName 'D365 app' } |
                Should -Throw '*1 of 1 file(s) failed or are unconfirmed*'
        }
        finally {
            Remove-Item Function:Get-AutomationPSCredential
        }
        Get-Content (Join-Path $runbookFolder 'failed/b.csv.error.txt') -Raw | Should -Match 'bad row'
    }

    It 'signs in with a client secret from Key Vault, read with the managed identity' {
        'CUSTOMERGROUPID' + "`n" + 'KV' | Set-Content (Join-Path $runbookFolder 'c.csv')
        (Get-Item (Join-Path $runbookFolder 'c.csv')).LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-5)
        # Stand in for Az.Accounts and Az.KeyVault, which Automation's runtime provides.
        $calls = [Collections.Generic.List[string]]::new()
        $secret = $credential.Password
        Set-Item Function:global:Connect-AzAccount -Value ({ param([switch] $Identity) $calls.Add("Connect-AzAccount Identity=$Identity") }.GetNewClosure())
        Set-Item Function:global:Get-AzKeyVaultSecret -Value ({
                param([string] $VaultName, [string] $Name, [switch] $AsPlainText)
                $calls.Add("Get-AzKeyVaultSecret $VaultName/$Name")
                [pscustomobject]@{ SecretValue = $secret }
            }.GetNewClosure())
        try {
            $output = & (Join-Path $examples 'Invoke-D365FolderRunbook.ps1') @runbook -TenantId $emulator.Ready.tenantId `
                -AuthorityHost $emulator.Ready.authorityHost -KeyVaultName 'contoso-d365' -SecretName 'd365-app' -ClientId $emulator.Ready.clientId
        }
        finally {
            Remove-Item Function:Connect-AzAccount, Function:Get-AzKeyVaultSecret
        }
        $calls | Should -Be @('Connect-AzAccount Identity=True', 'Get-AzKeyVaultSecret contoso-d365/d365-app')
        ($output -join "`n") | Should -Match '1 file\(s\) handled \(1 Processed\)'
        Test-Path (Join-Path $runbookFolder 'processed/c.csv') | Should -BeTrue
    }

    It 'signs in with the app''s certificate from Key Vault' {
        'CUSTOMERGROUPID' + "`n" + 'KVCERT' | Set-Content (Join-Path $runbookFolder 'd.csv')
        (Get-Item (Join-Path $runbookFolder 'd.csv')).LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-5)
        # Key Vault hands a certificate's private key out as the secret of the same name: the PFX, base64-encoded.
        $pfx = [Convert]::ToBase64String($appCertificate.Export('Pfx'))
        Set-Item Function:global:Connect-AzAccount -Value ({ param([switch] $Identity) }.GetNewClosure())
        Set-Item Function:global:Get-AzKeyVaultSecret -Value ({
                param([string] $VaultName, [string] $Name, [switch] $AsPlainText)
                if ($Name -ne 'd365-app-cert' -or -not $AsPlainText) { throw "Unexpected secret $Name" }
                $pfx
            }.GetNewClosure())
        try {
            $output = & (Join-Path $examples 'Invoke-D365FolderRunbook.ps1') @runbook -TenantId $emulator.Ready.tenantId `
                -AuthorityHost $emulator.Ready.authorityHost -KeyVaultName 'contoso-d365' -CertificateName 'd365-app-cert' -ClientId $emulator.Ready.clientId
        }
        finally {
            Remove-Item Function:Connect-AzAccount, Function:Get-AzKeyVaultSecret
        }
        ($output -join "`n") | Should -Match '1 file\(s\) handled \(1 Processed\)'
        Test-Path (Join-Path $runbookFolder 'processed/d.csv') | Should -BeTrue
    }
}

Describe 'Invoke-D365FolderRunbook.ps1 on a 10,000-file run' {
    BeforeAll {
        # Azure Automation keeps at most 1 MiB per job stream. Stand-ins for the module's commands give the runbook
        # 10,000 results (9,000 Processed, 400 Failed, 100 Unconfirmed, 500 Pending) and 300 errors, without 10,000 uploads.
        function script:Invoke-SyntheticRunbook([hashtable] $Extra) {
            Set-Item Function:global:Connect-D365 -Value { }
            Set-Item Function:global:Disconnect-D365 -Value { }
            Set-Item Function:global:Invoke-D365FolderImport -Value {
                [CmdletBinding()]
                param([string] $Path, [guid] $ActivityId, [string] $EntityName, [int] $TimeoutSeconds, [int] $PollIntervalSeconds)
                Write-Verbose 'HTTP line the module would write per call'
                for ($i = 0; $i -lt 10000; $i++) {
                    $outcome = if ($i -lt 9000) { 'Processed' } elseif ($i -lt 9400) { 'Failed' } elseif ($i -lt 9500) { 'Unconfirmed' } else { 'Pending' }
                    [pscustomobject]@{ FileName = "customer-groups-$i.csv"; Outcome = $outcome; Status = $outcome; MessageId = [guid]::NewGuid() }
                }
                for ($i = 0; $i -lt 300; $i++) { Write-Error "EnqueueFileLocked: file-$i.csv is held open by another process" }
            }
            $parameters = @{ Environment = 'https://contoso.operations.dynamics.com'; ActivityId = [guid]::NewGuid(); Path = '/srv/d365/inbox' } + $Extra
            $records = [Collections.Generic.List[object]]::new()
            try {
                & (Join-Path $examples 'Invoke-D365FolderRunbook.ps1') @parameters *>&1 | ForEach-Object { $records.Add($_) }
            }
            catch {
                $records.Add($_)
            }
            finally {
                Remove-Item Function:Connect-D365, Function:Disconnect-D365, Function:Invoke-D365FolderImport
            }
            , $records
        }
        function script:Get-StreamBytes($Records, [type] $Type) {
            $text = (@($Records | Where-Object { $_ -is $Type }) | ForEach-Object { "$_" }) -join "`n"
            [Text.Encoding]::UTF8.GetByteCount($text)
        }
    }

    It 'writes a summary and one line per failure (the first 100), each stream far under 1 MiB, and fails the job' {
        $records = Invoke-SyntheticRunbook @{}
        $output = @($records | Where-Object { $_ -is [string] })
        $output[0] | Should -Match '10000 file\(s\) handled \(400 Failed, 500 Pending, 9000 Processed, 100 Unconfirmed\), 300 error\(s\)'
        @($output | Where-Object { $_ -like 'Failed: *' -or $_ -like 'Unconfirmed: *' }).Count | Should -Be 100
        @($output | Where-Object { $_ -like 'Error: *' }).Count | Should -Be 100
        $output[-1] | Should -Be "... and 600 more: see the 'failed' and 'unconfirmed' folders and journal.csv in /srv/d365/inbox."
        @($records | Where-Object { $_ -is [Management.Automation.VerboseRecord] }) | Should -BeNullOrEmpty
        $failure = @($records | Where-Object { $_ -is [Management.Automation.ErrorRecord] })
        $failure.Count | Should -Be 1
        "$($failure[0])" | Should -Match '500 of 10000 file\(s\) failed or are unconfirmed and 300 error\(s\)'
        Get-StreamBytes $records ([string]) | Should -BeLessThan 64KB
        Get-StreamBytes $records ([Management.Automation.ErrorRecord]) | Should -BeLessThan 1KB
    }

    It 'writes one verbose line per file only with -Verbose, never the module''s line per HTTP call, and stays under 1 MiB' {
        $records = Invoke-SyntheticRunbook @{ Verbose = $true }
        $verbose = @($records | Where-Object { $_ -is [Management.Automation.VerboseRecord] })
        $verbose.Count | Should -Be 10000
        $verbose.Message | Should -Not -Contain 'HTTP line the module would write per call'
        Get-StreamBytes $records ([Management.Automation.VerboseRecord]) | Should -BeLessThan 1MB
    }
}
