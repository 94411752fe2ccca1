#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The one error contract, as PowerShell sees it: every category of the catalogue has its own ErrorCategory, and an
# exception that is not the module's own leaves as UnexpectedError with the exception inside, never with a type name.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $cmdletBase = (Get-Command Connect-D365).ImplementingType.BaseType
    $flags = [Reflection.BindingFlags]'NonPublic, Static'
    $script:toCategory = $cmdletBase.GetMethod('ToErrorCategory', $flags)
    $script:toRecord = $cmdletBase.GetMethod('ToErrorRecord', $flags)
}

AfterAll {
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
}

Describe 'The cmdlets'' error mapping' {
    It 'gives every category of the catalogue the PowerShell ErrorCategory of the same meaning' {
        $categories = [Enum]::GetValues($toCategory.GetParameters()[0].ParameterType)
        $categories.Count | Should -BeGreaterThan 10
        foreach ($category in $categories) {
            $mapped = $toCategory.Invoke($null, @($category))
            $mapped | Should -BeOfType ([System.Management.Automation.ErrorCategory])
            $mapped.ToString() | Should -Be $category.ToString()
        }
    }

    It 'turns an exception that is not the module''s own into UnexpectedError with the exception inside and advice to report it' {
        $original = [System.InvalidOperationException]::new('boom')
        $record = $toRecord.Invoke($null, @($original, 'the item'))
        $record.FullyQualifiedErrorId | Should -Be 'UnexpectedError'
        $record.CategoryInfo.Category | Should -Be 'NotSpecified'
        $record.TargetObject | Should -Be 'the item'
        $record.Exception.InnerException | Should -Be $original
        $record.Exception.Message | Should -Match 'System.InvalidOperationException: boom'
        $record.ErrorDetails.RecommendedAction | Should -Match 'report it'
        $record.ErrorDetails.RecommendedAction | Should -Match 'Get-Error'
    }

    It 'keeps the ErrorId, category and advice of the module''s own errors' {
        Disconnect-D365 -ErrorAction SilentlyContinue
        $failure = $null
        try { Receive-D365Dequeue -ActivityId ([guid]::NewGuid()) -OutputPath ([IO.Path]::GetTempPath()) -ErrorAction Stop }
        catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -BeLike 'NoSession,*'
        $failure.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $failure.ErrorDetails.RecommendedAction | Should -Match 'Connect-D365'
    }
}
