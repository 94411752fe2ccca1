#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The built module's manifest, as PowerShell itself reads it.

BeforeAll {
    $script:repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:moduleFolder = Join-Path $repositoryRoot 'out/RecurringIntegrations'
    $script:manifestPath = Join-Path $moduleFolder 'RecurringIntegrations.psd1'
    [xml] $props = Get-Content (Join-Path $repositoryRoot 'Directory.Build.props') -Raw
    $script:versionPrefix = $props.Project.PropertyGroup.VersionPrefix
    $script:versionSuffix = $props.Project.PropertyGroup.VersionSuffix
    $script:version = if ($versionSuffix) { "$versionPrefix-$versionSuffix" } else { $versionPrefix }
    $script:copyright = $props.Project.PropertyGroup.Copyright
}

Describe 'RecurringIntegrations.psd1' {
    It 'passes Test-ModuleManifest without a warning or an error, with the version of Directory.Build.props' {
        $versionPrefix | Should -Match '^\d+\.\d+\.\d+$'
        $versionSuffix | Should -Match '^[A-Za-z0-9]*$' -Because 'the PowerShell Gallery takes only letters and digits as a prerelease label'
        $manifest = Test-ModuleManifest -Path $manifestPath -WarningVariable warnings -ErrorVariable errors -WarningAction SilentlyContinue
        @($warnings) | Should -BeNullOrEmpty
        @($errors) | Should -BeNullOrEmpty
        $manifest.Version | Should -Be ([version] $versionPrefix)
        "$($manifest.PrivateData.PSData.Prerelease)" | Should -Be "$versionSuffix"
        $manifest.PowerShellVersion | Should -Be ([version] '5.1')
        $manifest.CompatiblePSEditions | Sort-Object | Should -Be @('Core', 'Desktop')
    }

    It 'exports exactly the cmdlets of the design, and they are the ones the module has' {
        $expected = @('Confirm-D365Ack', 'Connect-D365', 'Disconnect-D365', 'Get-D365ExecutionError', 'Get-D365MessageStatus',
            'Get-D365Session', 'Receive-D365Dequeue', 'Send-D365Enqueue', 'Invoke-D365FolderImport', 'Invoke-D365FolderExport'
            # Data packages and the package API
            'New-D365DataPackage', 'Import-D365DataPackage', 'Export-D365DataPackage', 'Get-D365ExecutionStatus',
            'Initialize-D365DataManagement', 'Get-D365DataEntity') | Sort-Object
        (Test-ModuleManifest -Path $manifestPath).ExportedCmdlets.Keys | Sort-Object | Should -Be $expected
        $module = Import-Module $manifestPath -Force -PassThru
        try {
            (Get-Command -Module $module.Name).Name | Sort-Object | Should -Be $expected
        }
        finally {
            Remove-Module $module.Name -Force
        }
    }

    It 'carries gallery metadata consistent with LICENSE, Directory.Build.props and CHANGELOG.md' {
        $data = Import-PowerShellDataFile $manifestPath
        $psData = $data.PrivateData.PSData
        $license = Get-Content (Join-Path $repositoryRoot 'LICENSE') -Raw
        $license | Should -Match '^MIT License'
        # One holder everywhere: LICENSE's copyright line, the manifest's Author, CompanyName and Copyright, the assemblies'.
        $holder = [regex]::Match($license, '(?m)^Copyright \(c\) (\d{4}) (.+)$')
        $holder.Success | Should -BeTrue
        $data.Author | Should -Be $holder.Groups[2].Value
        $data.CompanyName | Should -Be $holder.Groups[2].Value
        $data.Copyright | Should -Be "(c) $($holder.Groups[1].Value) $($holder.Groups[2].Value). MIT License."
        $copyright | Should -Be $data.Copyright
        $data.Description | Should -Match 'Dynamics 365 Finance and Operations'
        $psData.Tags | Should -Contain 'PSEdition_Core'
        $psData.Tags | Should -Contain 'PSEdition_Desktop'
        $psData.Tags | Should -Not -Match '\s'
        $psData.LicenseUri | Should -Be "$($psData.ProjectUri)/blob/main/LICENSE"
        Test-Path (Join-Path $moduleFolder 'LICENSE') | Should -BeTrue -Because 'the package carries its licence'
        # ReleaseNotes is this version's section of CHANGELOG.md, word for word.
        $changelog = (Get-Content (Join-Path $repositoryRoot 'CHANGELOG.md') -Raw) -replace "`r`n", "`n"
        $section = [regex]::Match($changelog, "(?ms)^## \[$([regex]::Escape($version))\][^\n]*\n(.*?)(?=^## |^\[|\z)")
        $section.Success | Should -BeTrue -Because "CHANGELOG.md has a section for $version"
        $psData.ReleaseNotes | Should -Be $section.Groups[1].Value.Trim()
        $psData.ReleaseNotes | Should -Match 'Added'
    }

    It 'stamps the version into every assembly of the module, with the commit in the informational version, and into the help' {
        $commit = git -C $repositoryRoot rev-parse HEAD 2>$null
        foreach ($file in 'RecurringIntegrations.PowerShell.dll', 'Dependencies/RecurringIntegrations.Core.dll', 'Dependencies/RecurringIntegrations.Loader.dll') {
            $path = Join-Path $moduleFolder $file
            [Reflection.AssemblyName]::GetAssemblyName($path).Version | Should -Be ([version] "$versionPrefix.0") -Because $file
            $info = [Diagnostics.FileVersionInfo]::GetVersionInfo($path)
            $info.FileVersion | Should -Be "$versionPrefix.0" -Because $file
            if ($commit) { $info.ProductVersion | Should -Be "$version+$commit" -Because $file }
            else { $info.ProductVersion | Should -BeLike "$version*" -Because $file }
            $info.LegalCopyright | Should -Be $copyright -Because $file
        }
        Get-Content (Join-Path $moduleFolder 'en-US/about_RecurringIntegrations.help.txt') -Raw |
            Should -Match "This help is for version $([regex]::Escape($version))\."
    }

    It 'gives every cmdlet help with examples, and the about topics' {
        Import-Module $manifestPath -Force
        try {
            foreach ($command in Get-Command -Module RecurringIntegrations) {
                $help = Get-Help $command.Name -Full
                $help.Synopsis | Should -Not -BeNullOrEmpty -Because $command.Name
                @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2 -Because $command.Name
            }
            (Get-Help about_RecurringIntegrations | Out-String) | Should -Match 'RecurringIntegrations'
            (Get-Help about_RecurringIntegrations_Errors | Out-String) | Should -Match 'EnqueueFileNotFound'
            (Get-Help about_RecurringIntegrations_Packages | Out-String) | Should -Match 'ImportFromPackage'
        }
        finally {
            Remove-Module RecurringIntegrations -Force
        }
    }
}
