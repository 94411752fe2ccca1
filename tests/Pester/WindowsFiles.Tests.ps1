#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Issue 18's file behaviour, in a real PowerShell against the standalone emulator: what an inbox never sends, and a
# download whose name is taken by a folder failing once, clearly, without a second download.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ("ri-winfiles-" + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200'
    $script:ready = $emulator.Ready
    $script:admin = $ready.environment.TrimEnd('/') + '/emulator'
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $connect = $emulator.ConnectParameters
    Connect-D365 @connect -WarningAction SilentlyContinue | Out-Null
}

AfterAll {
    Disconnect-D365 -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'An inbox on Windows' {
    It 'sends only the real files, never desktop.ini, Thumbs.db, an Office owner file or a hidden file' {
        $inbox = Join-Path $work 'inbox'
        New-Item -ItemType Directory -Path $inbox | Out-Null
        foreach ($name in 'desktop.ini', 'Thumbs.db', '~$a.csv', '.hidden.csv', 'a.csv', 'b.csv') {
            Set-Content -LiteralPath (Join-Path $inbox $name) -Value "CUSTOMERGROUPID`n$name"
        }
        $before = (Invoke-RestMethod "$admin/messages" -SkipCertificateCheck).imports

        $rows = Invoke-D365FolderImport -Path $inbox -ActivityId $ready.importActivity -EntityName 'Customer groups' -SettleSeconds 0 -PollIntervalSeconds 1

        @($rows.FileName | Sort-Object) | Should -Be @('a.csv', 'b.csv')
        @((Invoke-RestMethod "$admin/messages" -SkipCertificateCheck).imports).Count - @($before).Count | Should -Be 2
        foreach ($name in 'desktop.ini', 'Thumbs.db', '~$a.csv', '.hidden.csv') {
            Join-Path $inbox $name | Should -Exist
        }
        Join-Path $inbox 'processed/a.csv' | Should -Exist
        Join-Path $inbox 'processed/b.csv' | Should -Exist
    }
}

Describe 'A download whose name a folder holds' {
    It 'fails once with FileTargetIsFolder, leaves the message unacknowledged and is not downloaded again' {
        $id = (Invoke-RestMethod -Method Post -Uri "$admin/exports/$($ready.exportActivity)?name=customers.xml" `
                -Body ([Text.Encoding]::UTF8.GetBytes('<customers/>')) -SkipCertificateCheck).correlationId
        # The file is named after its message; a folder of that name is already there, and -Force asks for that very name.
        $output = Join-Path $work 'out'
        $taken = Join-Path $output "$id.xml"
        New-Item -ItemType Directory -Path $taken -Force | Out-Null
        $callsBefore = (Invoke-RestMethod "$admin/stats" -SkipCertificateCheck).calls

        $saved = Receive-D365Dequeue -ActivityId $ready.exportActivity -OutputPath $output -Force -Acknowledge -ErrorVariable failed -ErrorAction SilentlyContinue

        $saved | Should -BeNullOrEmpty
        @($failed).Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'FileTargetIsFolder*'
        $failed[0].Exception.Message | Should -BeLike "*$id.xml*"
        # One dequeue that found it, one download, one dequeue that found the queue empty: no second download.
        (Invoke-RestMethod "$admin/stats" -SkipCertificateCheck).calls - $callsBefore | Should -Be 3
        $export = (Invoke-RestMethod "$admin/messages" -SkipCertificateCheck).exports | Where-Object correlationId -eq $id
        $export.acknowledged | Should -BeFalse
        Test-Path -LiteralPath $taken -PathType Container | Should -BeTrue
    }
}
