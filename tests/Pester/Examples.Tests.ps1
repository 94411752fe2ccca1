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
}

AfterAll {
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Invoke-D365InboxImport.ps1' {
    BeforeAll {
        $script:inbox = Join-Path $work 'inbox'
        New-Item -ItemType Directory -Path $inbox | Out-Null
        'CUSTOMERGROUPID' + "`n" + 'WHOLESALE' | Set-Content (Join-Path $inbox 'good-1.csv')
        'CUSTOMERGROUPID' + "`n" + 'RETAIL' | Set-Content (Join-Path $inbox 'good-2.csv')
        'CUSTOMERGROUPID' + "`n" + 'EMULATOR-ERROR: Customer group TOO-LONG is too long' | Set-Content (Join-Path $inbox 'bad.csv')
        $script:results = @(& (Join-Path $examples 'Invoke-D365InboxImport.ps1') @target -ActivityId $import -EntityName 'Customer groups' `
            -InboxPath $inbox -PollIntervalSeconds 1 -TimeoutSeconds 60)
    }

    It 'moves the good files to processed' {
        (Get-ChildItem (Join-Path $inbox 'processed') -File).Name | Sort-Object | Should -Be @('good-1.csv', 'good-2.csv')
    }

    It 'moves the bad file to failed with its execution errors beside it' {
        (Get-ChildItem (Join-Path $inbox 'failed') -File).Name | Sort-Object | Should -Be @('bad.csv', 'bad.csv.error.txt')
        $text = Get-Content (Join-Path $inbox 'failed/bad.csv.error.txt') -Raw
        $text | Should -Match 'ProcessedWithErrors'
        $text | Should -Match 'TOO-LONG is too long'
    }

    It 'leaves only the journal in the inbox and journals every message when sent and when settled' {
        (Get-ChildItem $inbox -File).Name | Should -Be 'journal.csv'
        $journal = @(Import-Csv (Join-Path $inbox 'journal.csv'))
        $journal.Count | Should -Be 6
        @($journal | Where-Object Status -eq 'Enqueued').MessageId | Sort-Object | Should -Be ([string[]] ($results.MessageId | Sort-Object))
        (@($journal | Where-Object Status -ne 'Enqueued') | Sort-Object File).Status | Should -Be @('ProcessedWithErrors', 'Processed', 'Processed')
    }

    It 'keeps a file the service refuses (unknown activity) in the inbox and journals nothing for it' {
        'CUSTOMERGROUPID' + "`n" + 'KEEP' | Set-Content (Join-Path $inbox 'refused.csv')
        & (Join-Path $examples 'Invoke-D365InboxImport.ps1') @target -ActivityId ([guid]::NewGuid()) -InboxPath $inbox `
            -PollIntervalSeconds 1 -WarningVariable warnings | Out-Null
        Test-Path (Join-Path $inbox 'refused.csv') | Should -BeTrue
        ($warnings -join "`n") | Should -Match 'refused.csv'
        @(Import-Csv (Join-Path $inbox 'journal.csv')).Count | Should -Be 6
    }

    It 'moves a file whose upload answer was lost to unconfirmed and never sends it again' {
        $lossy = Start-D365Emulator -ArgumentList '--fault', 'reset-after-body:/api/connector/enqueue:1'
        try {
            $lossyTarget = $target.Clone()
            $lossyTarget.Environment = $lossy.Ready.environment
            $lossyTarget.AuthorityHost = $lossy.Ready.authorityHost
            'CUSTOMERGROUPID' + "`n" + 'LOST' | Set-Content (Join-Path $inbox 'lost.csv')
            & (Join-Path $examples 'Invoke-D365InboxImport.ps1') @lossyTarget -ActivityId $import -InboxPath $inbox -Filter 'lost.csv' `
                -PollIntervalSeconds 1 -TimeoutSeconds 1 -WarningVariable warnings | Out-Null
            & (Join-Path $examples 'Invoke-D365InboxImport.ps1') @lossyTarget -ActivityId $import -InboxPath $inbox -Filter 'lost.csv' `
                -PollIntervalSeconds 1 -TimeoutSeconds 1 | Out-Null
        }
        finally {
            Stop-D365Emulator $lossy
        }
        Test-Path (Join-Path $inbox 'lost.csv') | Should -BeFalse
        Test-Path (Join-Path $inbox 'unconfirmed/lost.csv') | Should -BeTrue
        ($warnings -join "`n") | Should -Match 'message history'
        @(Import-Csv (Join-Path $inbox 'journal.csv') | Where-Object File -eq 'lost.csv').Count | Should -Be 0
    }

    It 'parks a sent file whose processing has not finished in pending, never sends it again, and settles it next run' {
        # Processing takes 3 s against a 1 s wait: sent, but not finished in this run.
        $slow = Start-D365Emulator -ArgumentList '--processing-delay-ms', '1500'
        try {
            $slowTarget = $target.Clone()
            $slowTarget.Environment = $slow.Ready.environment
            $slowTarget.AuthorityHost = $slow.Ready.authorityHost
            & (Join-Path $examples 'Invoke-D365InboxImport.ps1') @slowTarget -ActivityId $import -InboxPath $inbox -Filter 'refused.csv' `
                -PollIntervalSeconds 1 -TimeoutSeconds 1 -WarningVariable warnings | Out-Null
            Test-Path (Join-Path $inbox 'refused.csv') | Should -BeFalse
            Test-Path (Join-Path $inbox 'pending/refused.csv') | Should -BeTrue
            ($warnings -join "`n") | Should -Match 'pending'
            (Import-Csv (Join-Path $inbox 'journal.csv') | Select-Object -Last 1).Status | Should -Be 'Enqueued'

            Start-Sleep -Seconds 4
            $settled = @(& (Join-Path $examples 'Invoke-D365InboxImport.ps1') @slowTarget -ActivityId $import -InboxPath $inbox `
                -PollIntervalSeconds 1 -TimeoutSeconds 1)
            $settled.Status | Should -Be 'Processed'
            Test-Path (Join-Path $inbox 'processed/refused.csv') | Should -BeTrue
            @(Get-ChildItem (Join-Path $inbox 'pending')).Count | Should -Be 0
        }
        finally {
            Stop-D365Emulator $slow
        }
        (Import-Csv (Join-Path $inbox 'journal.csv') | Select-Object -Last 1).Status | Should -Be 'Processed'
    }
}

Describe 'Invoke-D365ImportRunbook.ps1' {
    BeforeAll {
        $script:runbookFolder = Join-Path $work 'runbook'
        New-Item -ItemType Directory -Path $runbookFolder | Out-Null
        'CUSTOMERGROUPID' + "`n" + 'WHOLESALE' | Set-Content (Join-Path $runbookFolder 'a.csv')
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
            $output = & (Join-Path $examples 'Invoke-D365ImportRunbook.ps1') @runbook
        }
        finally {
            Remove-Item Env:IDENTITY_ENDPOINT, Env:IDENTITY_HEADER
        }
        ($output -join "`n") | Should -Match 'a.csv: Processed'
    }

    It 'signs in with an Automation credential asset and throws when a file did not end Processed' {
        'CUSTOMERGROUPID' + "`n" + 'EMULATOR-ERROR: bad row' | Set-Content (Join-Path $runbookFolder 'b.csv')
        # Stands in for the Azure Automation command, which exists only in a runbook.
        # A closure, because inside the runbook the name $Credential is its own (empty) parameter.
        $asset = $credential
        Set-Item Function:global:Get-AutomationPSCredential -Value ({
                param([string] $Name)
                if ($Name -ne 'D365 app') { throw "No credential asset named $Name" }
                $asset
            }.GetNewClosure())
        try {
            $report = Join-Path $work 'runbook-report.csv'
            { & (Join-Path $examples 'Invoke-D365ImportRunbook.ps1') @runbook -TenantId $emulator.Ready.tenantId `
                    -AuthorityHost $emulator.Ready.authorityHost -CredentialName 'D365 app' -ReportPath $report } |
                Should -Throw '*1 of 2 file(s) did not end Processed: b.csv*'
        }
        finally {
            Remove-Item Function:Get-AutomationPSCredential
        }
        $rows = Import-Csv $report
        ($rows | Where-Object File -eq 'b.csv').Errors | Should -Be 'bad row'
    }
}

Describe 'Invoke-D365ExportDrain.ps1' {
    It 'saves and acknowledges every waiting file with a log line each' {
        $out = Join-Path $work 'drained'
        $log = Join-Path $work 'drain.log'
        $lines = & (Join-Path $examples 'Invoke-D365ExportDrain.ps1') @target -ActivityId $export -OutputPath $out -LogPath $log
        @(Get-ChildItem $out -File).Count | Should -Be 2
        $logged = Get-Content $log
        @($logged | Where-Object { $_ -match 'saved .* acknowledged True' }).Count | Should -Be 2
        $logged[-1] | Should -Match '2 file\(s\) saved'
        $lines | Should -Be $logged
    }

    It 'finds the queue empty the next time' {
        $lines = & (Join-Path $examples 'Invoke-D365ExportDrain.ps1') @target -ActivityId $export -OutputPath (Join-Path $work 'drained')
        $lines | Should -Match '0 file\(s\) saved'
    }
}
