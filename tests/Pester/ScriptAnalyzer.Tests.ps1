#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# PSScriptAnalyzerSettings.psd1, which './build.ps1 -Task Test' (and -Task Analyze) runs over the shipped scripts, the
# manifest and build.ps1: it holds every rule of the Gallery's settings and flags what Windows PowerShell 5.1 lacks.
# The analyzer in ../shared/tools is built for PowerShell 7.6: on an older PowerShell these tests are skipped (the
# test task runs the analysis itself on the PowerShell that runs build.ps1).

BeforeDiscovery {
    $script:analyzerRuns = $PSVersionTable.PSVersion -ge [version] '7.6'
}

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:settings = Join-Path $repositoryRoot 'PSScriptAnalyzerSettings.psd1'
    $installed = Get-Module -ListAvailable PSScriptAnalyzer | Where-Object Version -eq ([version] '1.25.0') | Select-Object -First 1
    if ($PSVersionTable.PSVersion -ge [version] '7.6') {
        if ($installed) { Import-Module $installed.Path -Force }
        else { Import-Module (& (Join-Path $repositoryRoot '../shared/tools/Import-PSScriptAnalyzer.ps1') -PathOnly) -Force }
    }
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-pssa-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null
}

AfterAll {
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'PSScriptAnalyzerSettings.psd1' -Skip:(-not $analyzerRuns) {
    It 'runs every rule of the Gallery''s own settings (-Settings PSGallery)' {
        $gallery = Import-PowerShellDataFile (Join-Path (Split-Path (Get-Module PSScriptAnalyzer).Path) 'Settings/PSGallery.psd1')
        $defaultRules = (Get-ScriptAnalyzerRule).RuleName
        foreach ($rule in $gallery.IncludeRules) {
            @($defaultRules | Where-Object { $_ -like $rule }).Count | Should -BeGreaterThan 0 -Because $rule
        }
        (Import-PowerShellDataFile $settings).IncludeDefaultRules | Should -BeTrue
    }

    It 'flags a Gallery finding, Write-Host, syntax and a command Windows PowerShell 5.1 lacks, and honours a suppression with its reason' {
        $script = Join-Path $work 'Planted.ps1'
        Set-Content -Path $script -Value @'
function Get-Planted {
    param([string] $Password)
    Write-Host $Password
    $value = $null ?? 1
    Get-Uptime
    $value
}
function Show-Planted {
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidUsingWriteHost', '', Justification = 'A console report.')]
    param()
    Write-Host 'kept on purpose'
}
'@
        $findings = @(Invoke-ScriptAnalyzer -Path $script -Settings $settings)
        $findings.RuleName | Should -Contain 'PSAvoidUsingPlainTextForPassword'
        $findings.RuleName | Should -Contain 'PSUseCompatibleSyntax'
        ($findings | Where-Object RuleName -eq 'PSUseCompatibleCommands').Message | Should -Match "'Get-Uptime'"
        @($findings | Where-Object RuleName -eq 'PSAvoidUsingWriteHost').Line | Should -Be @(3)
    }
}
