#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# './build.ps1 -Task Package' makes a nupkg that PowerShellGet takes from a folder repository. Needs PowerShellGet
# (Windows PowerShell 5.1 and PowerShell 7 ship it); skipped without it.

BeforeDiscovery {
    $hasPowerShellGet = [bool] (Get-Command Publish-Module -ErrorAction SilentlyContinue)
}

BeforeAll {
    $script:repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:powershell = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-package-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null
}

AfterAll {
    if (Get-Command Get-PSRepository -ErrorAction SilentlyContinue) {
        Get-PSRepository -Name 'RecurringIntegrationsTest' -ErrorAction SilentlyContinue | Unregister-PSRepository
    }
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'build.ps1 -Task Package' -Skip:(-not $hasPowerShellGet) {
    BeforeAll {
        $output = & $powershell -NoProfile -NonInteractive -File (Join-Path $repositoryRoot 'build.ps1') -Task Package 2>&1
        $script:exitCode = $LASTEXITCODE
        $script:buildOutput = $output -join "`n"
        $script:package = Get-ChildItem (Join-Path $repositoryRoot 'out/packages') -Filter 'RecurringIntegrations.*.nupkg' -ErrorAction SilentlyContinue
    }

    It 'writes one nupkg' {
        $exitCode | Should -Be 0 -Because $buildOutput
        @($package).Count | Should -Be 1
    }

    It 'holds the manifest, the cmdlet assembly and Core' {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($package.FullName)
        try {
            $entries = $zip.Entries.FullName
        }
        finally {
            $zip.Dispose()
        }
        $entries | Should -Contain 'RecurringIntegrations.psd1'
        $entries | Should -Contain 'RecurringIntegrations.PowerShell.dll'
        $entries | Should -Contain 'RecurringIntegrations.Core.dll'
    }

    It 'is accepted by PowerShellGet from a folder repository and imports' {
        # Save-Module resolves and unpacks exactly as Install-Module does, without touching the user's module folders.
        Register-PSRepository -Name 'RecurringIntegrationsTest' -SourceLocation $package.DirectoryName -InstallationPolicy Trusted
        $saved = Join-Path $work 'modules'
        New-Item -ItemType Directory -Path $saved | Out-Null
        Save-Module -Name RecurringIntegrations -Repository 'RecurringIntegrationsTest' -Path $saved
        $manifest = Get-ChildItem $saved -Recurse -Filter 'RecurringIntegrations.psd1' | Select-Object -First 1
        $imported = & $powershell -NoProfile -NonInteractive -Command "Import-Module '$($manifest.FullName)'; (Get-Command -Module RecurringIntegrations).Count"
        $imported | Should -Be 10
    }
}
