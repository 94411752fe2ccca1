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

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200', '--export-folder', $exportFolder
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
    $script:credentialPath = Join-Path $work 'app.credential.xml'
    $credential | Export-Clixml -LiteralPath $credentialPath
    # What the scheduled job needs to reach the emulator instead of a real environment.
    $script:job = @{
        Environment          = $ready.environment
        AuthorityHost        = $ready.authorityHost
        TenantId             = $ready.tenantId
        CredentialPath       = $credentialPath
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

    It 'shows how to schedule it with Task Scheduler, a systemd timer and cron in its help' {
        $help = Get-Help (Join-Path $examples 'Invoke-D365FolderJob.ps1') -Full | Out-String -Width 400
        $help | Should -Match 'Register-ScheduledTask'
        $help | Should -Match 'OnCalendar='
        $help | Should -Match '\*/15 \* \* \* \*'
    }
}

Describe 'Invoke-D365FolderImport -WhatIf' {
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
        ($output -join "`n") | Should -Match 'a.csv: Processed Processed'
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
                Should -Throw '*1 of 1 file(s) failed or are unconfirmed (b.csv)*'
        }
        finally {
            Remove-Item Function:Get-AutomationPSCredential
        }
        Get-Content (Join-Path $runbookFolder 'failed/b.csv.error.txt') -Raw | Should -Match 'bad row'
    }
}
