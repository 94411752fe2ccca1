#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The rest of the data management API against the standalone emulator: the staging error file, the asynchronous package
# actions with a 100 MB package, the data entities and -EntityName completion, and the entity list refresh.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-dataapi-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work -Force | Out-Null
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force

    # A 100 MB package, made here: one data file of incompressible bytes (the emulator reads only small data files).
    $data = Join-Path $work 'Big.csv'
    $random = [Random]::new(20)
    $buffer = [byte[]]::new(4MB)
    $stream = [IO.File]::Create($data)
    try { for ($i = 0; $i -lt 25; $i++) { $random.NextBytes($buffer); $stream.Write($buffer, 0, $buffer.Length) } }
    finally { $stream.Dispose() }
    $script:bigPackage = (New-D365DataPackage -Path $data -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'Big.zip')).FullName
    Remove-Item -LiteralPath $data

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '300', '--export-package', "Big project=$bigPackage"
    $connect = $emulator.ConnectParameters
    Connect-D365 @connect -WarningAction SilentlyContinue | Out-Null
}

AfterAll {
    Disconnect-D365 -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Get-D365ExecutionError -ErrorFile' {
    BeforeAll {
        $file = Join-Path $work 'groups.csv'
        Set-Content -LiteralPath $file -Value "CUSTGROUP`r`n10`r`nEMULATOR-ERROR: Group 20 has no terms of payment" -Encoding Unicode
        $zip = New-D365DataPackage -Path $file -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'groups.zip')
        $script:run = Import-D365DataPackage -Path $zip.FullName -DefinitionGroupId 'Groups' -LegalEntityId usmf -Wait -PollIntervalSeconds 1
    }

    It 'saves the staging error file of a failed import, readable, and the error rows say it holds them' {
        $run.Status | Should -Be 'PartiallySucceeded'
        $out = @($run | Get-D365ExecutionError -EntityName 'Customer groups' -ErrorFile Staging -OutputPath (Join-Path $work 'errors'))
        $errors = @($out | Where-Object { $_.PSTypeNames[0] -eq 'RecurringIntegrations.ExecutionError' })
        $saved = @($out | Where-Object { $_.PSTypeNames[0] -eq 'RecurringIntegrations.ErrorKeysFile' })
        $errors.Count | Should -Be 1
        $errors[0].ErrorFile | Should -Be 'Staging'
        $saved.Count | Should -Be 1
        $saved[0].ErrorFile | Should -Be 'Staging'
        $rows = @(Import-Csv -LiteralPath $saved[0].Path)
        $rows.Count | Should -Be 1
        $rows[0].ERROR | Should -Be 'Group 20 has no terms of payment'
        $rows[0].LINENUMBER | Should -Be '3'
    }

    It 'saves nothing and says so in a verbose line when the service has no file' {
        $folder = Join-Path $work 'none'
        $verbose = $run | Get-D365ExecutionError -EntityName 'Vendor groups' -ErrorFile Staging -OutputPath $folder -Verbose 4>&1 |
            Where-Object { $_ -is [Management.Automation.VerboseRecord] }
        ($verbose.Message -join "`n") | Should -Match "no Staging error file for entity 'Vendor groups'"
        @(Get-ChildItem -LiteralPath $folder -ErrorAction SilentlyContinue).Count | Should -Be 0
    }

    It 'still saves the target error keys file' {
        $saved = $run | Get-D365ExecutionError -EntityName 'Customer groups' -ErrorFile Target -OutputPath (Join-Path $work 'keys') |
            Where-Object { $_.PSTypeNames[0] -eq 'RecurringIntegrations.ErrorKeysFile' }
        $saved.ErrorFile | Should -Be 'Target'
        Get-Content -LiteralPath $saved.Path -Raw | Should -Match 'Group 20 has no terms of payment'
    }
}

Describe 'A 100 MB package through the asynchronous actions' {
    It 'imports and exports it with ImportFromPackageAsync and ExportToPackageAsync, whole' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $lines = Import-D365DataPackage -Path $bigPackage -DefinitionGroupId 'Big import' -LegalEntityId usmf -Wait -PollIntervalSeconds 1 -Verbose 4>&1
        $imported = $lines | Where-Object { $_.PSTypeNames -contains 'RecurringIntegrations.PackageExecution' }
        $verbose = ($lines | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n"
        $imported.Status | Should -Be 'Succeeded'
        $verbose | Should -Match 'ImportFromPackageAsync'
        $verbose | Should -Not -Match 'ImportFromPackage\b(?!Async)'

        $lines = Export-D365DataPackage -DefinitionGroupId 'Big project' -LegalEntityId usmf -OutputPath (Join-Path $work 'export') -PollIntervalSeconds 1 -Verbose 4>&1
        $exported = $lines | Where-Object { $_.PSTypeNames -contains 'RecurringIntegrations.PackageExecution' }
        $verbose = ($lines | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n"
        $verbose | Should -Match 'ExportToPackageAsync'
        (Get-FileHash -LiteralPath $exported.Path).Hash | Should -Be (Get-FileHash -LiteralPath $bigPackage).Hash
        (Get-Item -LiteralPath $bigPackage).Length | Should -BeGreaterThan 100MB
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 60
    }
}

Describe 'Get-D365DataEntity and -EntityName completion' {
    It 'lists the customer entities with their names, display name, category and read-only flag' {
        $entities = @(Get-D365DataEntity *customer*)
        $entities.Name | Should -Contain 'CustCustomerGroupEntity'
        $entities.Name | Should -Not -Contain 'VendVendorGroupEntity'
        $groups = $entities | Where-Object Name -eq 'CustCustomerGroupEntity'
        $groups.PSTypeNames[0] | Should -Be 'RecurringIntegrations.DataEntity'
        ($groups.DisplayName, $groups.PublicEntityName, $groups.PublicCollectionName, $groups.Category, $groups.IsReadOnly) |
            Should -Be @('Customer groups', 'CustomerGroup', 'CustomerGroups', 'Reference', $false)
        ($entities | Where-Object Name -eq 'CustInvoiceJourEntity').IsReadOnly | Should -BeTrue
    }

    It 'matches -Name against display names too' {
        (Get-D365DataEntity '* groups').Name | Should -Be @('CustCustomerGroupEntity', 'VendVendorGroupEntity')
    }

    It 'shows a table that fits 80 columns' {
        $text = Get-D365DataEntity *customer* | Format-Table | Out-String -Width 80
        $text | Should -Match 'DisplayName\s+Category\s+ReadOnly\s+Name'
        $text | Should -Match 'Customer groups\s+Reference\s+False\s+CustCustomerGroupEntity'
        ($text -split "`r?`n" | Where-Object { $_.TrimEnd().Length -gt 80 }) | Should -BeNullOrEmpty
    }

    It 'completes -EntityName of every cmdlet with the display names of the session entity list' {
        foreach ($line in 'Send-D365Enqueue -EntityName Customer', 'Invoke-D365FolderImport -EntityName Customer', 'New-D365DataPackage -EntityName Customer',
            'Get-D365ExecutionError -ExecutionId x -EntityName Customer') {
            $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches
            $completions.CompletionText | Should -Contain "'Customer groups'" -Because $line
            $completions.CompletionText | Should -Not -Contain "'Vendor groups'" -Because $line
            ($completions | Where-Object ListItemText -eq 'Customer groups').ToolTip | Should -Be 'CustCustomerGroupEntity (CustomerGroups, Reference)'
        }
        $line = 'Send-D365Enqueue -EntityName group'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @("'Customer groups'", "'Vendor groups'")
        $line = "Send-D365Enqueue -EntityName 'Vendor g"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @("'Vendor groups'")
    }
}

Describe 'Initialize-D365DataManagement' {
    It 'refreshes the entity list and with -PassThru says it completed' {
        $refresh = Initialize-D365DataManagement -Wait -TimeoutSeconds 60 -PassThru
        $refresh.PSTypeNames[0] | Should -Be 'RecurringIntegrations.DataManagementRefresh'
        $refresh.Completed | Should -BeTrue
        $refresh.CompletedAt | Should -BeGreaterThan $refresh.StartedAt
    }

    It 'writes nothing without -PassThru and refreshes nothing with -WhatIf' {
        Initialize-D365DataManagement | Should -BeNullOrEmpty
        Initialize-D365DataManagement -WhatIf -PassThru | Should -BeNullOrEmpty
    }
}
