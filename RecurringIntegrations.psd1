@{
    RootModule             = 'RecurringIntegrations.PowerShell.dll'
    # The build writes ModuleVersion, Prerelease and ReleaseNotes from Directory.Build.props and CHANGELOG.md.
    ModuleVersion          = '0.0.0'
    GUID                   = '4f0b7a52-8c1e-4d55-9d2e-6a3f1c9b7e21'
    Author                 = 'The RecurringIntegrations maintainers'
    CompanyName            = 'The RecurringIntegrations maintainers'
    Copyright              = '(c) 2026 The RecurringIntegrations maintainers. MIT License.'
    Description            = 'Dynamics 365 Finance and Operations recurring integrations and data packages from PowerShell: enqueue, dequeue and acknowledge files, follow message status and execution errors, crash-safe folder import and export, and the package API for large data. Microsoft Entra ID sign-in (client secret, certificate, managed identity), retries and flow control that never send an upload twice. Windows PowerShell 5.1 and PowerShell 7 on Windows, Linux and macOS, and Azure Automation runbooks.'
    PowerShellVersion      = '5.1'
    CompatiblePSEditions   = @('Desktop', 'Core')
    DotNetFrameworkVersion = '4.7.2'
    # Imported before RootModule: fails the import with RuntimeNotSupported, naming the runtime found and the fix, on
    # .NET Framework below 4.7.2 and PowerShell below 7.2, where the cmdlet assembly would fail with an obscure load error.
    NestedModules          = @('RecurringIntegrations.Runtime.psm1')
    FormatsToProcess       = @('RecurringIntegrations.Format.ps1xml')
    CmdletsToExport        = @(
        'Connect-D365', 'Get-D365Session', 'Disconnect-D365',
        'Send-D365Enqueue', 'Receive-D365Dequeue', 'Confirm-D365Ack',
        'Get-D365MessageStatus', 'Get-D365ExecutionError',
        'Invoke-D365FolderImport', 'Invoke-D365FolderExport'
        # Data packages and the package API
        'New-D365DataPackage', 'Import-D365DataPackage', 'Export-D365DataPackage', 'Get-D365ExecutionStatus',
        'Initialize-D365DataManagement', 'Get-D365DataEntity'
    )
    FunctionsToExport      = @()
    AliasesToExport        = @()
    VariablesToExport      = @()
    PrivateData            = @{
        PSData = @{
            Tags         = @('Dynamics365', 'D365', 'FinanceAndOperations', 'RecurringIntegrations', 'DataManagement', 'DataPackage', 'AzureAutomation', 'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            ProjectUri   = 'https://github.com/RecurringIntegrations/RecurringIntegrations'
            LicenseUri   = 'https://github.com/RecurringIntegrations/RecurringIntegrations/blob/main/LICENSE'
            Prerelease   = ''
            ReleaseNotes = ''
        }
    }
}
