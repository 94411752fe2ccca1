# PSScriptAnalyzer settings for ./build.ps1 -Task Analyze (and -Task Test): the scripts the module ships, its manifest
# and build.ps1. Every default rule, which includes each rule of the Gallery's own settings (-Settings PSGallery), and
# the compatibility rules for Windows PowerShell 5.1, where most users run the module. A finding kept on purpose is
# suppressed where it is, with [Diagnostics.CodeAnalysis.SuppressMessageAttribute(Rule, Id, Justification = reason)].
@{
    IncludeDefaultRules = $true
    Rules               = @{
        PSUseCompatibleSyntax   = @{
            Enable         = $true
            TargetVersions = @('5.1')
        }
        PSUseCompatibleCommands = @{
            Enable         = $true
            # Windows PowerShell 5.1 on Windows Server 2019 / Windows 10 1809 (.NET Framework 4.8): the 5.1 profile
            # PSScriptAnalyzer ships.
            TargetProfiles = @('win-48_x64_10.0.17763.0_5.1.17763.134_x64_4.0.30319.42000_framework')
        }
    }
}
