#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Issue 19's company per file, in a real PowerShell against the standalone emulator: a two-company inbox lands each file
# in its company (the emulator's own record of each message says so), and the result, journal and status rows carry it;
# Send-D365Enqueue routes each file of a CSV manifest or a script block to its company, one at a time and in parallel.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ("ri-companies-" + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200'
    $script:ready = $emulator.Ready
    $script:admin = $ready.environment.TrimEnd('/') + '/emulator'
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $connect = $emulator.ConnectParameters
    Connect-D365 @connect -WarningAction SilentlyContinue | Out-Null

    # The company the emulator recorded for each message, from the enqueue's company query parameter.
    function Get-ReceivedCompany {
        $companies = @{}
        foreach ($import in (Invoke-RestMethod "$admin/messages" -SkipCertificateCheck).imports) { $companies[[string]$import.messageId] = $import.company }
        $companies
    }

    function New-TestFile([string] $Path) {
        New-Item -ItemType Directory -Path (Split-Path $Path) -Force | Out-Null
        Set-Content -LiteralPath $Path -Value "CUSTOMERGROUPID`n$(Split-Path $Path -Leaf)"
    }
}

AfterAll {
    Disconnect-D365 -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'A two-company inbox (-CompanyFrom Subfolder)' {
    It 'lands each file in its company, shown in the result, status and journal rows' {
        $inbox = Join-Path $work 'inbox'
        New-TestFile (Join-Path $inbox 'USMF/groups.csv')
        New-TestFile (Join-Path $inbox 'DEMF/groups.csv')
        New-TestFile (Join-Path $inbox 'DEMF/more.csv')

        $rows = Invoke-D365FolderImport -Path $inbox -ActivityId $ready.importActivity -EntityName 'Customer groups' -CompanyFrom Subfolder `
            -SettleSeconds 0 -PollIntervalSeconds 1 -ThrottleLimit 2
        $statuses = $rows | Get-D365MessageStatus

        @($rows | ForEach-Object { "$($_.Company) $($_.FileName) $($_.Outcome)" } | Sort-Object) |
            Should -Be @('DEMF groups.csv Processed', 'DEMF more.csv Processed', 'USMF groups.csv Processed')
        $received = Get-ReceivedCompany
        foreach ($status in $statuses) {
            $status.Status | Should -Be 'Processed'
            $received[[string]$status.MessageId] | Should -Be $status.Company
        }
        @($statuses.Company | Sort-Object) | Should -Be @('DEMF', 'DEMF', 'USMF')
        Join-Path $inbox 'processed/USMF/groups.csv' | Should -Exist
        Join-Path $inbox 'processed/DEMF/groups.csv' | Should -Exist
        $journal = Import-Csv (Join-Path $inbox 'journal.csv')
        @($journal | Where-Object Event -eq 'Processed' | ForEach-Object { "$($_.Company) $($_.File)" } | Sort-Object) |
            Should -Be @('DEMF DEMF/groups.csv', 'DEMF DEMF/more.csv', 'USMF USMF/groups.csv')
    }

    It 'leaves a file whose name holds no company in the inbox with CompanyNotInFileName (-CompanyFrom FileName)' {
        $inbox = Join-Path $work 'byname'
        New-TestFile (Join-Path $inbox 'USMF_groups.csv')
        New-TestFile (Join-Path $inbox 'groups.csv')

        $rows = Invoke-D365FolderImport -Path $inbox -ActivityId $ready.importActivity -EntityName 'Customer groups' -CompanyFrom FileName `
            -SettleSeconds 0 -PollIntervalSeconds 1 -ErrorVariable failed -ErrorAction SilentlyContinue

        @($rows).Count | Should -Be 1
        $rows.Company | Should -Be 'USMF'
        (Get-ReceivedCompany)[[string]$rows.MessageId] | Should -Be 'USMF'
        @($failed).Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'CompanyNotInFileName*'
        $failed[0].Exception.Message | Should -BeLike '*groups.csv*(?<company>*'
        Join-Path $inbox 'groups.csv' | Should -Exist
    }

    It 'refuses a pattern without a company group before touching the inbox' {
        $inbox = Join-Path $work 'nogroup'
        New-TestFile (Join-Path $inbox 'USMF_groups.csv')

        { Invoke-D365FolderImport -Path $inbox -ActivityId $ready.importActivity -CompanyFrom FileName -CompanyPattern '^[^_]+_' -SettleSeconds 0 -ErrorAction Stop } |
            Should -Throw -ErrorId 'CompanyPatternWithoutGroup*'
        Join-Path $inbox 'journal.csv' | Should -Not -Exist
        Join-Path $inbox 'USMF_groups.csv' | Should -Exist
    }
}

Describe 'Send-D365Enqueue -Company by property name' {
    BeforeAll {
        $script:files = Join-Path $work 'manifest'
        foreach ($name in 'a.csv', 'b.csv', 'c.csv', 'd.csv') { New-TestFile (Join-Path $files $name) }
        $script:manifest = Join-Path $files 'manifest.csv'
        @(
            [pscustomobject]@{ Path = (Join-Path $files 'a.csv'); Company = 'USMF' }
            [pscustomobject]@{ Path = (Join-Path $files 'b.csv'); Company = 'DEMF' }
            [pscustomobject]@{ Path = (Join-Path $files 'c.csv'); Company = 'USSI' }
            [pscustomobject]@{ Path = (Join-Path $files 'd.csv'); Company = 'DEMF' }
        ) | Export-Csv -LiteralPath $manifest -NoTypeInformation -Encoding UTF8
    }

    It 'routes each file of a CSV manifest to its company with -ThrottleLimit <Limit>' -TestCases @(@{ Limit = 1 }, @{ Limit = 4 }) {
        param($Limit)
        $sent = Import-Csv -LiteralPath $manifest | Send-D365Enqueue -ActivityId $ready.importActivity -EntityName 'Customer groups' -ThrottleLimit $Limit

        @($sent | ForEach-Object { "$($_.FileName) $($_.Company)" } | Sort-Object) | Should -Be @('a.csv USMF', 'b.csv DEMF', 'c.csv USSI', 'd.csv DEMF')
        $received = Get-ReceivedCompany
        foreach ($message in $sent) { $received[[string]$message.MessageId] | Should -Be $message.Company }
        @($sent | Get-D365MessageStatus | Sort-Object FileName | ForEach-Object Company) | Should -Be @('USMF', 'DEMF', 'USSI', 'DEMF')
    }

    It 'takes each company from a script block, and one -Company for every file' {
        $prefixed = Join-Path $work 'prefixed'
        New-TestFile (Join-Path $prefixed 'USMF_a.csv')
        New-TestFile (Join-Path $prefixed 'DEMF_b.csv')

        $byName = Get-ChildItem -LiteralPath $prefixed -Filter *.csv |
            Send-D365Enqueue -ActivityId $ready.importActivity -EntityName 'Customer groups' -ThrottleLimit 2 -Company { $_.BaseName.Split('_')[0] }
        $one = Get-ChildItem -LiteralPath $prefixed -Filter *.csv | Send-D365Enqueue -ActivityId $ready.importActivity -EntityName 'Customer groups' -Company USSI

        $received = Get-ReceivedCompany
        @($byName | Sort-Object FileName | ForEach-Object { $received[[string]$_.MessageId] }) | Should -Be @('DEMF', 'USMF')
        @($one | ForEach-Object { $received[[string]$_.MessageId] }) | Should -Be @('USSI', 'USSI')
    }
}
