#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The package cmdlets end to end: the built module against the standalone emulator, its blob storage on a second host name.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-packages-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work -Force | Out-Null
    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '300', '--definition-group', 'Groups project=Customer groups,Vendor groups'
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $connect = $emulator.ConnectParameters
    Connect-D365 @connect -WarningAction SilentlyContinue | Out-Null

    function New-DataFile([string] $Name, [string] $Content) {
        $path = Join-Path $work $Name
        Set-Content -LiteralPath $path -Value $Content -Encoding Unicode
        $path
    }
}

AfterAll {
    Disconnect-D365 -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'New-D365DataPackage' {
    It 'writes a flat package with the data file, manifest and header and emits its FileInfo' {
        $data = New-DataFile 'CustGroups.csv' "CUSTOMERGROUPID,DESCRIPTION`r`n10,Retail"
        $zip = New-D365DataPackage -Path $data -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'new/CustGroups.zip')
        $zip | Should -BeOfType System.IO.FileInfo
        $zip.Exists | Should -BeTrue
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $archive = [IO.Compression.ZipFile]::OpenRead($zip.FullName)
        try { $archive.Entries.FullName | Sort-Object | Should -Be @('CustGroups.csv', 'Manifest.xml', 'PackageHeader.xml') }
        finally { $archive.Dispose() }
    }

    It 'puts several entities in one package from -Entity hashtables' {
        $groups = New-DataFile 'groups.csv' 'A'
        $vendors = New-DataFile 'vendors.csv' 'B'
        $zip = New-D365DataPackage -Entity @{ Path = $groups; EntityName = 'Customer groups' }, @{ Path = $vendors; EntityName = 'Vendor groups'; Level = 2 } `
            -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'two.zip')
        $archive = [IO.Compression.ZipFile]::OpenRead($zip.FullName)
        try {
            $reader = [IO.StreamReader]::new($archive.GetEntry('Manifest.xml').Open())
            [xml] $manifest = $reader.ReadToEnd()
            $reader.Dispose()
        }
        finally { $archive.Dispose() }
        $entities = $manifest.DataManagementPackageManifest.PackageEntityList.DataManagementPackageEntityData
        $entities.EntityName | Should -Be @('Customer groups', 'Vendor groups')
        $entities.LevelInExecutionUnit | Should -Be @('1', '2')
    }

    It 'writes nothing with -WhatIf' {
        $data = New-DataFile 'whatif.csv' 'A'
        New-D365DataPackage -Path $data -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'whatif.zip') -WhatIf
        Join-Path $work 'whatif.zip' | Should -Not -Exist
    }

    It 'refuses files and entity names that do not pair up, with the fix' {
        $a = New-DataFile 'a.csv' 'A'
        $b = New-DataFile 'b.csv' 'B'
        { New-D365DataPackage -Path $a, $b -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'x.zip') -ErrorAction Stop } |
            Should -Throw -ErrorId 'PackageEntityNameCount*' -ExpectedMessage '*one -EntityName per -Path file*'
        Join-Path $work 'x.zip' | Should -Not -Exist
    }
}

Describe 'Import-D365DataPackage and the pipeline' {
    It 'New | Import -Wait | Get-D365ExecutionError gives the errors of the data' {
        $data = New-DataFile 'bad.csv' "CUSTOMERGROUPID`r`n10`r`nEMULATOR-ERROR: Group 20 has no terms of payment"
        $errors = New-D365DataPackage -Path $data -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'bad.zip') |
            Import-D365DataPackage -DefinitionGroupId 'Pipeline project' -LegalEntityId usmf -Wait -PollIntervalSeconds 1 |
            Get-D365ExecutionError
        $errors.Count | Should -Be 1
        $errors[0].ErrorMessage | Should -Be 'Group 20 has no terms of payment'
        $errors[0].EntityName | Should -Be 'Customer groups'
    }

    It 'emits the execution and ends Succeeded for clean data' {
        $data = New-DataFile 'good.csv' "CUSTOMERGROUPID`r`n10"
        $zip = New-D365DataPackage -Path $data -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'good.zip')
        $run = Import-D365DataPackage -Path $zip.FullName -DefinitionGroupId 'Good project' -LegalEntityId usmf -Wait -PollIntervalSeconds 1
        $run.pstypenames[0] | Should -Be 'RecurringIntegrations.PackageExecution'
        $run.Status | Should -Be 'Succeeded'
        $run.DefinitionGroupId | Should -Be 'Good project'
        $run.LegalEntityId | Should -Be 'usmf'
        $run.SummaryPageUrl | Should -Match ([regex]::Escape($run.ExecutionId))
        ($run | Format-Table | Out-String) | Should -Match 'Succeeded'
    }

    It 'starts without -Wait, and Get-D365ExecutionStatus -Wait follows it to the end' {
        $zip = New-D365DataPackage -Path (New-DataFile 'later.csv' 'A') -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'later.zip')
        $run = $zip | Import-D365DataPackage -DefinitionGroupId 'Later project' -LegalEntityId usmf
        $run.Status | Should -Be 'Unknown'
        ($run | Get-D365ExecutionStatus -Wait -PollIntervalSeconds 1).Status | Should -Be 'Succeeded'
        (Get-D365ExecutionStatus -ExecutionId $run.ExecutionId).Status | Should -Be 'Succeeded'
    }

    It 'warns that the storage host certificate is not checked when the session skips certificate checks' {
        $zip = New-D365DataPackage -Path (New-DataFile 'warn.csv' 'A') -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'warn.zip')
        $null = Import-D365DataPackage -Path $zip.FullName -DefinitionGroupId 'Warn project' -LegalEntityId usmf -WarningVariable warnings -WarningAction SilentlyContinue
        "$warnings" | Should -Match 'storage host is not checked'
    }

    It 'refuses a raw file before uploading and says to build a package' {
        $raw = New-DataFile 'raw.csv' 'A,B'
        Import-D365DataPackage -Path $raw -DefinitionGroupId 'G' -LegalEntityId usmf -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'NotADataPackage*'
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $failures[0].ErrorDetails.RecommendedAction | Should -BeLike '*New-D365DataPackage*'
    }

    It 'takes -BlockConcurrency from 1 to 16 (default 4) and refuses others before anything is sent' {
        $zip = New-D365DataPackage -Path (New-DataFile 'blocks.csv' 'A') -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'blocks.zip')
        (Get-Command Import-D365DataPackage).Parameters['BlockConcurrency'].ParameterType | Should -Be ([int])
        foreach ($wrong in 0, 17) {
            { Import-D365DataPackage -Path $zip.FullName -DefinitionGroupId 'Blocks project' -LegalEntityId usmf -BlockConcurrency $wrong -ErrorAction Stop } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,RecurringIntegrations.PowerShell.ImportD365DataPackageCommand'
        }
        (Import-D365DataPackage -Path $zip.FullName -DefinitionGroupId 'Blocks project' -LegalEntityId usmf -BlockConcurrency 16 -Wait -PollIntervalSeconds 1).Status |
            Should -Be 'Succeeded'
    }

    It 'sends nothing with -WhatIf' {
        $zip = New-D365DataPackage -Path (New-DataFile 'wi.csv' 'A') -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'wi.zip')
        Import-D365DataPackage -Path $zip.FullName -DefinitionGroupId 'WhatIf project' -LegalEntityId usmf -WhatIf | Should -BeNullOrEmpty
        { Export-D365DataPackage -DefinitionGroupId 'WhatIf project' -LegalEntityId usmf -OutputPath (Join-Path $work 'wi') -ErrorAction Stop } |
            Should -Throw -ExpectedMessage "*'WhatIf project' was not found*"
    }

    It 'with -EntityName saves the error keys file of the entity' {
        $data = New-DataFile 'keys.csv' "ID`r`nEMULATOR-ERROR: key 7 refused"
        $run = New-D365DataPackage -Path $data -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'keys.zip') |
            Import-D365DataPackage -DefinitionGroupId 'Keys project' -LegalEntityId usmf -Wait -PollIntervalSeconds 1
        $out = $run | Get-D365ExecutionError -EntityName 'Customer groups' -OutputPath (Join-Path $work 'keys')
        $keys = $out | Where-Object { $_.pstypenames[0] -eq 'RecurringIntegrations.ErrorKeysFile' }
        $keys.Path | Should -Exist
        Get-Content -LiteralPath $keys.Path -Raw | Should -Match 'key 7 refused'
    }
}

Describe 'Export-D365DataPackage' {
    It 'exports a data project, saves the package and expands it' {
        $run = Export-D365DataPackage -DefinitionGroupId 'Groups project' -LegalEntityId usmf -OutputPath (Join-Path $work 'exports') -Expand -PollIntervalSeconds 1
        $run.Status | Should -Be 'Succeeded'
        $run.Path | Should -Be (Join-Path $work 'exports/Groups project.zip')
        $run.Path | Should -Exist
        Join-Path $work 'exports/Groups project/Manifest.xml' | Should -Exist
        Get-ChildItem (Join-Path $work 'exports') -Filter '.*' -Force | Should -BeNullOrEmpty
    }

    It 'will not replace a saved package without -Force' {
        { Export-D365DataPackage -DefinitionGroupId 'Groups project' -LegalEntityId usmf -OutputPath (Join-Path $work 'exports') -ErrorAction Stop } |
            Should -Throw -ErrorId 'PackageOutputExists*'
        (Export-D365DataPackage -DefinitionGroupId 'Groups project' -LegalEntityId usmf -OutputPath (Join-Path $work 'exports') -Force -PollIntervalSeconds 1).Status |
            Should -Be 'Succeeded'
    }
}

Describe 'Storage URLs and the token' {
    It 'never shows a sig= value in any stream or object, and never sends the token to the storage host' {
        $Error.Clear()
        $log = Join-Path $work 'streams.txt'
        $data = New-DataFile 'leak.csv' "ID`r`nEMULATOR-ERROR: leak check"
        & {
            $DebugPreference = 'Continue'
            $zip = New-D365DataPackage -Path $data -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'leak.zip') -Verbose
            $run = $zip | Import-D365DataPackage -DefinitionGroupId 'Leak project' -LegalEntityId usmf -Wait -PollIntervalSeconds 1 -Verbose
            $run | Format-List * | Out-String
            $run | ConvertTo-Csv
            $run | Get-D365ExecutionError -EntityName 'Customer groups' -OutputPath (Join-Path $work 'leak-keys') -Verbose | Format-List * | Out-String
            Export-D365DataPackage -DefinitionGroupId 'Groups project' -LegalEntityId usmf -OutputPath (Join-Path $work 'leak-exports') -Verbose -PollIntervalSeconds 1 | Format-List * | Out-String
            Import-D365DataPackage -Path (New-DataFile 'leak-raw.csv' 'A') -DefinitionGroupId 'G' -LegalEntityId usmf -ErrorAction Continue
        } *>&1 | Out-String -Width 400 | Set-Content -LiteralPath $log
        $text = (Get-Content -LiteralPath $log -Raw) + ($Error | Out-String -Width 400)

        $text | Should -Match 'PUT https://localhost:\d+/dmf/'
        $text | Should -Match 'sig=REDACTED'
        ([regex]::Matches($text, 'sig=(?!REDACTED)')).Count | Should -Be 0
        Get-Content -LiteralPath (Join-Path $emulator.WorkFolder 'emulator.out') -Raw | Should -Not -Match 'LEAK:'
    }
}
