#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# build.ps1 tasks that the other suites do not run already (Build and Demo: Demo.Tests.ps1, Package: Package.Tests.ps1),
# and the module layout every suite imports.

BeforeAll {
    $script:repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:powershell = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
}

Describe 'build.ps1 -Task Clean' {
    It 'removes out/ and every bin/ and obj/ folder, and nothing else' {
        # A copy of build.ps1 in a scratch tree: cleaning the real checkout would pull the module from under this run.
        $tree = Join-Path ([IO.Path]::GetTempPath()) ('ri-clean-' + [guid]::NewGuid().ToString('N'))
        try {
            foreach ($folder in 'out/RecurringIntegrations', 'src/Lib/bin/Debug', 'src/Lib/obj', 'tests/T/bin') {
                New-Item -ItemType Directory -Force -Path (Join-Path $tree $folder) | Out-Null
            }
            Set-Content -Path (Join-Path $tree 'src/Lib/bin/Debug/Lib.dll') -Value 'x'
            Set-Content -Path (Join-Path $tree 'src/Lib/Code.cs') -Value 'class C {}'
            Copy-Item (Join-Path $repositoryRoot 'build.ps1') $tree

            & $powershell -NoProfile -NonInteractive -File (Join-Path $tree 'build.ps1') -Task Clean
            $LASTEXITCODE | Should -Be 0

            foreach ($gone in 'out', 'src/Lib/bin', 'src/Lib/obj', 'tests/T/bin') {
                Test-Path (Join-Path $tree $gone) | Should -BeFalse -Because $gone
            }
            Test-Path (Join-Path $tree 'src/Lib/Code.cs') | Should -BeTrue
        }
        finally {
            Remove-Item $tree -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}

Describe 'The built module folder' {
    It 'holds the manifest, the assemblies and the module files, and not PowerShell itself' {
        $module = Join-Path $repositoryRoot 'out/RecurringIntegrations'
        foreach ($file in 'RecurringIntegrations.psd1', 'RecurringIntegrations.PowerShell.dll', 'Dependencies/RecurringIntegrations.Core.dll',
            'Dependencies/RecurringIntegrations.Loader.dll', 'Dependencies/Microsoft.Identity.Client.dll',
            'Dependencies/Desktop/Microsoft.Identity.Client.dll', 'Dependencies/assemblies.txt', 'RecurringIntegrations.Format.ps1xml',
            'en-US/about_RecurringIntegrations.help.txt', 'Examples/Demo.ps1') {
            Test-Path (Join-Path $module $file) | Should -BeTrue -Because $file
        }
        Get-ChildItem (Join-Path $module '*.dll') | ForEach-Object Name | Should -Be 'RecurringIntegrations.PowerShell.dll'
        Get-ChildItem $module -Recurse -Filter 'System.Management.Automation.dll' | Should -BeNullOrEmpty -Because 'PowerShell provides it'
    }
}
