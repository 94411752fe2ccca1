#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Bad input that PowerShell and the cmdlets decide before anything is sent: each case checks the FullyQualifiedErrorId
# and that nothing was lost (input files untouched, export messages still on the queue).

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-badinput-' + [guid]::NewGuid().ToString('N'))
    $exportFolder = Join-Path $work 'exports'
    New-Item -ItemType Directory -Path $exportFolder -Force | Out-Null
    '<Export><Row>1</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export1.xml')

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200', '--export-folder', $exportFolder
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $connect = $emulator.ConnectParameters
    Connect-D365 @connect -WarningAction SilentlyContinue | Out-Null
    $script:import = $emulator.Ready.importActivity
    $script:export = $emulator.Ready.exportActivity

    $script:inbox = Join-Path $work 'in'
    New-Item -ItemType Directory -Path $inbox | Out-Null
    $script:file = Join-Path $inbox 'a.csv'
    'CUSTOMERGROUPID' + "`n" + 'WHOLESALE' | Set-Content -Path $file
    $script:fileHash = (Get-FileHash $file).Hash
}

AfterAll {
    Disconnect-D365 -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Send-D365Enqueue bad input' {
    AfterEach {
        # Nothing a refused call did may touch the user's file.
        (Get-FileHash $file).Hash | Should -Be $fileHash
    }

    It 'refuses a malformed activity id before sending' {
        { Send-D365Enqueue -Path $file -ActivityId 'not-a-guid' -EntityName 'Customer groups' } |
            Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,RecurringIntegrations.PowerShell.SendD365EnqueueCommand'
    }

    It 'accepts a braced GUID' {
        $sent = Send-D365Enqueue -Path $file -ActivityId ('{' + $import + '}') -EntityName 'Customer groups'
        $sent.ActivityId | Should -Be ([guid] $import)
    }

    It 'refuses -ThrottleLimit <Limit>' -ForEach @(@{ Limit = 0 }, @{ Limit = 65 }) {
        { Send-D365Enqueue -Path $file -ActivityId $import -ThrottleLimit $Limit } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError,RecurringIntegrations.PowerShell.SendD365EnqueueCommand'
    }

    It 'writes EnqueueFileNotFound for a wildcard that matches nothing' {
        $sent = Send-D365Enqueue -Path (Join-Path $inbox '*.nothing') -ActivityId $import -ErrorVariable failures -ErrorAction SilentlyContinue
        $sent | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -Be 'EnqueueFileNotFound,RecurringIntegrations.PowerShell.SendD365EnqueueCommand'
    }

    It 'writes EnqueuePathIsDirectory for a folder and sends the file beside it' {
        $sent = Send-D365Enqueue -LiteralPath $inbox, $file -ActivityId $import -EntityName 'Customer groups' -ErrorVariable failures -ErrorAction SilentlyContinue
        $sent.FileName | Should -Be 'a.csv'
        $failures[0].FullyQualifiedErrorId | Should -Be 'EnqueuePathIsDirectory,RecurringIntegrations.PowerShell.SendD365EnqueueCommand'
        $failures[0].TargetObject | Should -Be $inbox
    }

    It 'writes EnqueueFileEmpty for an empty file and keeps it' {
        $empty = Join-Path $work 'empty.csv'
        New-Item -ItemType File -Path $empty | Out-Null
        $sent = Send-D365Enqueue -LiteralPath $empty -ActivityId $import -ErrorVariable failures -ErrorAction SilentlyContinue
        $sent | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -Be 'EnqueueFileEmpty,RecurringIntegrations.PowerShell.SendD365EnqueueCommand'
        Test-Path $empty | Should -BeTrue
    }

    It 'writes EnqueuePathNotFileSystem for a path on another provider' {
        $path = 'Env:PATH'
        if (Test-Path 'HKCU:\Software') { $path = 'HKCU:\Software' }
        $sent = Send-D365Enqueue -Path $path -ActivityId $import -ErrorVariable failures -ErrorAction SilentlyContinue
        $sent | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -Be 'EnqueuePathNotFileSystem,RecurringIntegrations.PowerShell.SendD365EnqueueCommand'
    }
}

Describe 'Receive-D365Dequeue bad input' {
    It 'refuses -MaxCount 0' {
        { Receive-D365Dequeue -ActivityId $export -OutputPath (Join-Path $work 'out') -MaxCount 0 } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError,RecurringIntegrations.PowerShell.ReceiveD365DequeueCommand'
    }

    It 'refuses an -OutputPath that is a file, and leaves the file and the queue alone' {
        { Receive-D365Dequeue -ActivityId $export -OutputPath $file -ErrorAction Stop } |
            Should -Throw -ErrorId 'OutputPathIsFile,RecurringIntegrations.PowerShell.ReceiveD365DequeueCommand'
        (Get-FileHash $file).Hash | Should -Be $fileHash
    }

    It 'creates a missing -OutputPath parent, and the message refused above is still there' {
        $deep = Join-Path (Join-Path (Join-Path $work 'new') 'parent') 'out'
        $received = Receive-D365Dequeue -ActivityId $export -OutputPath $deep -Acknowledge
        @($received).Count | Should -Be 1
        Test-Path -LiteralPath $received.Path | Should -BeTrue
        (Split-Path $received.Path -Parent) | Should -Be $deep
    }
}

Describe 'Session bad input' {
    It 'fails with NoSession when there is no session' {
        Disconnect-D365
        try {
            { Get-D365MessageStatus -MessageId ([guid]::NewGuid()) } |
                Should -Throw -ErrorId 'NoSession,RecurringIntegrations.PowerShell.GetD365MessageStatusCommand'
            { Send-D365Enqueue -Path $file -ActivityId $import } |
                Should -Throw -ErrorId 'NoSession,RecurringIntegrations.PowerShell.SendD365EnqueueCommand'
            (Get-FileHash $file).Hash | Should -Be $fileHash
        }
        finally {
            $connect = $emulator.ConnectParameters
            Connect-D365 @connect -WarningAction SilentlyContinue | Out-Null
        }
    }

    It 'refuses an http:// environment that is not on loopback, and keeps the default session' {
        $before = Get-D365Session
        $secret = ConvertTo-SecureString 'not-used' -AsPlainText -Force
        { Connect-D365 -Environment http://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com `
                -ClientId 11111111-2222-3333-4444-555555555555 -ClientSecret $secret } |
            Should -Throw -ErrorId 'EnvironmentNotHttps,RecurringIntegrations.PowerShell.ConnectD365Command'
        (Get-D365Session).Environment | Should -Be $before.Environment
    }
}
