#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# End-to-end: the built module (out/RecurringIntegrations, made by dotnet build) against the standalone emulator.
# Run from the repository root after a build:  Invoke-Pester ./tests/Pester

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $work = Join-Path ([IO.Path]::GetTempPath()) ("ri-pester-" + [guid]::NewGuid().ToString('N'))
    $exportFolder = Join-Path $work 'exports'
    New-Item -ItemType Directory -Path $exportFolder -Force | Out-Null
    '<Export><Row>1</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export1.xml')
    '<Export><Row>2</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export2.xml')
    '<Export><Row>3</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export3.xml')

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '300', '--export-folder', $exportFolder
    $script:ready = $emulator.Ready

    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $script:import = [guid]$ready.importActivity
    $script:export = [guid]$ready.exportActivity
    $script:work = $work

    function Connect-Emulator {
        $secret = ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force
        Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId `
            -ClientId $ready.clientId -ClientSecret $secret -SkipCertificateCheck -WarningAction SilentlyContinue
    }
}

AfterAll {
    Disconnect-D365 -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    if ($script:work) { Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Without a session' {
    It 'fails with NoSession and says to run Connect-D365' {
        Disconnect-D365 -Confirm:$false
        { Get-D365MessageStatus -MessageId ([guid]::NewGuid()) -ErrorAction Stop } |
            Should -Throw -ErrorId 'NoSession*' -ExpectedMessage '*Connect-D365*'
    }
}

Describe 'Connect-D365' {
    It 'connects, warns about -SkipCertificateCheck, and makes the session the default' {
        $secret = ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force
        $session = Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId `
            -ClientId $ready.clientId -ClientSecret $secret -SkipCertificateCheck -WarningVariable warnings -WarningAction SilentlyContinue
        $session.pstypenames[0] | Should -Be 'RecurringIntegrations.D365Session'
        $warnings.Count | Should -BeGreaterOrEqual 1
        (Get-D365Session).Environment | Should -Be $session.Environment
        (Get-D365Session).pstypenames[0] | Should -Be 'RecurringIntegrations.D365Session'
        ($session | Out-String) | Should -Not -Match ([regex]::Escape($ready.clientSecret))
    }

    It 'fails at once with a wrong secret' {
        $wrong = ConvertTo-SecureString 'not-the-secret' -AsPlainText -Force
        { Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId `
            -ClientId $ready.clientId -ClientSecret $wrong -SkipCertificateCheck -WarningAction SilentlyContinue -ErrorAction Stop } |
            Should -Throw
        Connect-Emulator | Out-Null
    }

    It 'takes -Credential with the client id as user name' {
        $credential = [pscredential]::new($ready.clientId, (ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force))
        $session = Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId `
            -Credential $credential -SkipCertificateCheck -WarningAction SilentlyContinue
        $session.ClientId | Should -Be $ready.clientId
    }

    It 'Disconnect-D365 -WhatIf keeps the session' {
        Connect-Emulator | Out-Null
        Disconnect-D365 -WhatIf
        Get-D365Session | Should -Not -BeNullOrEmpty
    }
}

Describe 'Import pipeline' {
    BeforeAll {
        Connect-Emulator | Out-Null
        $script:inFolder = Join-Path $work 'in'
        New-Item -ItemType Directory -Path $inFolder -Force | Out-Null
        '<CustomerGroup><Id>10</Id></CustomerGroup>' | Set-Content (Join-Path $inFolder 'a.xml')
        "<CustomerGroup><Id>20</Id></CustomerGroup>`nEMULATOR-ERROR: Customer group 20 has no terms of payment" | Set-Content (Join-Path $inFolder 'b.xml')
        '<CustomerGroup><Id>30</Id></CustomerGroup>' | Set-Content (Join-Path $inFolder 'c.xml')
    }

    It 'uploads Get-ChildItem output in order, waits, and lists the errors of the failed message' {
        $sent = Get-ChildItem (Join-Path $inFolder '*.xml') | Send-D365Enqueue -ActivityId $import -EntityName 'Customer groups'
        $sent.Count | Should -Be 3
        $sent.FileName | Should -Be @('a.xml', 'b.xml', 'c.xml')
        $sent[0].pstypenames[0] | Should -Be 'RecurringIntegrations.EnqueuedMessage'

        $statuses = $sent | Get-D365MessageStatus -Wait -TimeoutSeconds 60 -PollIntervalSeconds 1
        $statuses.Count | Should -Be 3
        $statuses[0].pstypenames[0] | Should -Be 'RecurringIntegrations.MessageStatus'
        ($statuses | Where-Object Status -eq 'ProcessedWithErrors').MessageId | Should -Be $sent[1].MessageId

        $errors = $statuses | Where-Object Status -ne 'Processed' | Get-D365ExecutionError
        @($errors).Count | Should -Be 1
        $errors.pstypenames[0] | Should -Be 'RecurringIntegrations.ExecutionError'
        $errors.ErrorMessage | Should -Match 'no terms of payment'
        $errors.MessageId | Should -Be $sent[1].MessageId

        $csv = Join-Path $work 'errors.csv'
        $errors | Export-Csv $csv -NoTypeInformation
        (Import-Csv $csv).ErrorMessage | Should -Match 'no terms of payment'
    }

    It 'uploads with -ThrottleLimit and -Path wildcards' {
        $sent = Send-D365Enqueue -Path (Join-Path $inFolder '*.xml') -ActivityId $import -EntityName 'Customer groups' -ThrottleLimit 3
        ($sent.FileName | Sort-Object) | Should -Be @('a.xml', 'b.xml', 'c.xml')
        ($sent.MessageId | Select-Object -Unique).Count | Should -Be 3
    }

    It 'uploads pipeline input with -ThrottleLimit as it arrives, and -Ordered writes the results in input order' {
        $files = @('c.xml', 'a.xml', 'missing.xml', 'b.xml') | ForEach-Object { Join-Path $inFolder $_ }
        $sent = $files | Send-D365Enqueue -ActivityId $import -EntityName 'Customer groups' -ThrottleLimit 4 -Ordered `
            -ErrorVariable failures -ErrorAction SilentlyContinue
        $sent.FileName | Should -Be @('c.xml', 'a.xml', 'b.xml')
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'EnqueueFileNotFound*'
    }

    It 'writes EnqueueFileNotFound for a missing file and still sends the others' {
        $sent = Send-D365Enqueue -Path (Join-Path $inFolder 'a.xml'), (Join-Path $inFolder 'missing.xml'), (Join-Path $inFolder 'c.xml') `
            -ActivityId $import -EntityName 'Customer groups' -ErrorVariable failures -ErrorAction SilentlyContinue
        $sent.FileName | Should -Be @('a.xml', 'c.xml')
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'EnqueueFileNotFound*'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'sends nothing with -WhatIf' {
        $sent = Send-D365Enqueue -Path (Join-Path $inFolder 'a.xml') -ActivityId $import -EntityName 'Customer groups' -WhatIf
        $sent | Should -BeNullOrEmpty
    }

    It 'answers a bad activity id with a non-terminating error on the file' {
        $sent = Send-D365Enqueue -Path (Join-Path $inFolder 'a.xml') -ActivityId ([guid]::NewGuid()) -EntityName 'Customer groups' `
            -ErrorVariable failures -ErrorAction SilentlyContinue
        $sent | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].TargetObject | Should -BeLike '*a.xml'
    }

    It 'takes -ActivityId as a braced GUID string' {
        $sent = Send-D365Enqueue -LiteralPath (Join-Path $inFolder 'a.xml') -ActivityId ('{' + $import + '}') -EntityName 'Customer groups'
        $sent.ActivityId | Should -Be $import
    }

    It 'exports statuses and enqueued messages to CSV as flat rows' {
        $sent = Send-D365Enqueue -LiteralPath (Join-Path $inFolder 'a.xml') -ActivityId $import -EntityName 'Customer groups'
        $sentCsv = Join-Path $work 'sent.csv'
        $sent | Export-Csv $sentCsv -NoTypeInformation
        $statusCsv = Join-Path $work 'status.csv'
        Import-Csv $sentCsv | Get-D365MessageStatus | Export-Csv $statusCsv -IncludeTypeInformation
        (Get-Content $statusCsv -TotalCount 1) | Should -Be '#TYPE RecurringIntegrations.MessageStatus'
        (Import-Csv $statusCsv).MessageId | Should -Be ([string]$sent.MessageId)
    }
}

Describe 'Export pipeline' {
    BeforeAll {
        Connect-Emulator | Out-Null
        $script:outFolder = Join-Path $work 'out'
    }

    It 'downloads with -WhatIf -Acknowledge but acknowledges nothing' {
        $first = Receive-D365Dequeue -ActivityId $export -OutputPath $outFolder -MaxCount 1 -Acknowledge -WhatIf
        @($first).Count | Should -Be 1
        $first.Acknowledged | Should -BeFalse
        Test-Path $first.Path | Should -BeTrue
        # Not acknowledged, so Confirm-D365Ack can still do it: first with -WhatIf (nothing), then for real.
        $first | Confirm-D365Ack -WhatIf -PassThru | Should -BeNullOrEmpty
        $acked = $first | Confirm-D365Ack -PassThru
        $acked.Acknowledged | Should -BeTrue
        $acked.pstypenames[0] | Should -Be 'RecurringIntegrations.DequeuedMessage'
    }

    It 'saves the rest of the queue and acknowledges through the pipeline, via CSV' {
        $received = Receive-D365Dequeue -ActivityId $export -OutputPath $outFolder
        @($received).Count | Should -Be 2
        $received[0].pstypenames[0] | Should -Be 'RecurringIntegrations.DequeuedMessage'
        $received | ForEach-Object { Test-Path $_.Path | Should -BeTrue }

        $csv = Join-Path $work 'dequeued.csv'
        $received | Export-Csv $csv -NoTypeInformation
        $acked = Import-Csv $csv | Confirm-D365Ack -PassThru
        @($acked).Count | Should -Be 2
        $acked.Acknowledged | Should -Be @($true, $true)
    }

    It 'returns nothing when the queue is empty' {
        Receive-D365Dequeue -ActivityId $export -OutputPath $outFolder | Should -BeNullOrEmpty
    }

    It 'is a terminating error for a bad export activity id' {
        { Receive-D365Dequeue -ActivityId ([guid]::NewGuid()) -OutputPath $outFolder -ErrorAction Stop } | Should -Throw
    }
}

Describe 'Export messages whose file is gone' {
    BeforeAll {
        Connect-Emulator | Out-Null
        $script:admin = $ready.environment.TrimEnd('/') + '/emulator'
        function Add-Export([string] $Name) {
            (Invoke-RestMethod -Method Post -Uri "$admin/exports/$($export)?name=$Name" -Body ([Text.Encoding]::UTF8.GetBytes("<$Name/>")) -SkipCertificateCheck).correlationId
        }
        function Set-FileMissing([guid] $Id) { Invoke-RestMethod -Method Post -Uri "$admin/exports/$Id/file-missing" -SkipCertificateCheck | Out-Null }
        function Get-Export([guid] $Id) { (Invoke-RestMethod -Uri "$admin/messages" -SkipCertificateCheck).exports | Where-Object correlationId -eq $Id }
    }

    It 'saves the 3 good files, reports ExportFileMissing once, and the error''s target pipes into Confirm-D365Ack' {
        $good = 1..3 | ForEach-Object { [guid](Add-Export "good$_.xml") }
        $gone = [guid](Add-Export 'gone.xml')
        Set-FileMissing $gone
        $folder = Join-Path $work 'missing-1'

        $saved = Receive-D365Dequeue -ActivityId $export -OutputPath $folder -Acknowledge -ErrorVariable failed -ErrorAction SilentlyContinue

        @($saved.CorrelationId | Sort-Object) | Should -Be @($good | Sort-Object)
        @(Get-ChildItem $folder -File).Count | Should -Be 3
        @($failed).Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'ExportFileMissing*'
        $failed[0].Exception.Message | Should -BeLike "*$gone*$export*"
        $failed[0].TargetObject.CorrelationId | Should -Be $gone
        (Get-Export $gone).acknowledged | Should -BeFalse
        $failed[0].TargetObject | Confirm-D365Ack
        (Get-Export $gone).acknowledged | Should -BeTrue
    }

    It 'leaves the queue empty with -AcknowledgeMissing, with one warning per message whose file is gone' {
        $good = 1..3 | ForEach-Object { [guid](Add-Export "more$_.xml") }
        $gone = [guid](Add-Export 'gone-too.xml')
        Set-FileMissing $gone

        $saved = Receive-D365Dequeue -ActivityId $export -OutputPath (Join-Path $work 'missing-2') -Acknowledge -AcknowledgeMissing `
            -ErrorVariable failed -WarningVariable warned -WarningAction SilentlyContinue

        @($saved.CorrelationId | Sort-Object) | Should -Be @($good | Sort-Object)
        $failed | Should -BeNullOrEmpty
        @($warned).Count | Should -Be 1
        "$($warned[0])" | Should -BeLike "*$gone*-AcknowledgeMissing*"
        foreach ($id in @($good) + $gone) { (Get-Export $id).acknowledged | Should -BeTrue }
        Receive-D365Dequeue -ActivityId $export -OutputPath (Join-Path $work 'missing-2') | Should -BeNullOrEmpty
    }
}

Describe 'Output for reports' {
    It 'exports a session and every message type to CSV without secrets' {
        Connect-Emulator | Out-Null
        $csv = Join-Path $work 'session.csv'
        Get-D365Session | Export-Csv $csv -NoTypeInformation
        Get-Content $csv -Raw | Should -Not -Match ([regex]::Escape($ready.clientSecret))
        (Import-Csv $csv).Environment | Should -Be $ready.environment.ToLowerInvariant()
    }

    It 'writes one -Verbose line per HTTP call' {
        $verbose = Get-D365MessageStatus -MessageId ([guid]::NewGuid()) -Verbose -ErrorAction SilentlyContinue 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        @($verbose).Count | Should -BeGreaterOrEqual 1
        ($verbose.Message -join "`n") | Should -Not -Match 'Bearer'
    }

    It 'writes the HTTP lines under $VerbosePreference too, and none with -Verbose:$false' {
        $VerbosePreference = 'Continue'
        $byPreference = Get-D365MessageStatus -MessageId ([guid]::NewGuid()) -ErrorAction SilentlyContinue 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match '^POST ' }
        $switchedOff = Get-D365MessageStatus -MessageId ([guid]::NewGuid()) -Verbose:$false -ErrorAction SilentlyContinue 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $VerbosePreference = 'SilentlyContinue'
        @($byPreference).Count | Should -BeGreaterOrEqual 1
        @($switchedOff).Count | Should -Be 0
    }
}
