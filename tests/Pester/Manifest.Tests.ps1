#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The built module's manifest, as PowerShell itself reads it.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:manifestPath = Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1'
    [xml] $props = Get-Content (Join-Path $repositoryRoot 'Directory.Build.props') -Raw
    $script:version = $props.Project.PropertyGroup.Version
}

Describe 'RecurringIntegrations.psd1' {
    It 'passes Test-ModuleManifest with the version of Directory.Build.props' {
        $manifest = Test-ModuleManifest -Path $manifestPath
        $manifest.Version | Should -Be ([version] $version)
        $manifest.PowerShellVersion | Should -Be ([version] '5.1')
        $manifest.CompatiblePSEditions | Sort-Object | Should -Be @('Core', 'Desktop')
    }

    It 'exports exactly the cmdlets of the design, and they are the ones the module has' {
        $expected = @('Confirm-D365Ack', 'Connect-D365', 'Disconnect-D365', 'Get-D365ExecutionError', 'Get-D365MessageStatus',
            'Get-D365Session', 'Receive-D365Dequeue', 'Send-D365Enqueue', 'Invoke-D365FolderImport', 'Invoke-D365FolderExport'
            # Data packages and the package API
            'New-D365DataPackage', 'Import-D365DataPackage', 'Export-D365DataPackage', 'Get-D365ExecutionStatus') | Sort-Object
        (Test-ModuleManifest -Path $manifestPath).ExportedCmdlets.Keys | Sort-Object | Should -Be $expected
        $module = Import-Module $manifestPath -Force -PassThru
        try {
            (Get-Command -Module $module.Name).Name | Sort-Object | Should -Be $expected
        }
        finally {
            Remove-Module $module.Name -Force
        }
    }

    It 'carries the gallery metadata' {
        $data = Import-PowerShellDataFile $manifestPath
        $data.PrivateData.PSData.Tags | Should -Contain 'PSEdition_Core'
        $data.PrivateData.PSData.ProjectUri | Should -Not -BeNullOrEmpty
        $data.PrivateData.PSData.LicenseUri | Should -Not -BeNullOrEmpty
        $data.PrivateData.PSData.ReleaseNotes | Should -Not -BeNullOrEmpty
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
