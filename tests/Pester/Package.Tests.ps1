#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# './build.ps1 -Task Package' publishes a nupkg to a folder repository with PSResourceGet; PSResourceGet installs it from
# that folder. Both run in child processes whose user data folder is a scratch one, so the user's own repositories
# and modules are never touched.

BeforeAll {
    $script:repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:powershell = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-package-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null

    # PSResourceGet keeps its repository list under LocalApplicationData ($XDG_DATA_HOME on Linux, LOCALAPPDATA on
    # Windows) and installs CurrentUser modules under the home folder ($HOME, USERPROFILE on Windows). The build keeps
    # the real home folder: dotnet finds its NuGet packages there.
    function Invoke-IsolatedPowerShell([string] $Name, [string[]] $Arguments, [switch] $IsolateHome) {
        $userData = Join-Path $work $Name
        New-Item -ItemType Directory -Force -Path $userData | Out-Null
        $variables = @('XDG_DATA_HOME', 'LOCALAPPDATA') + $(if ($IsolateHome) { 'HOME', 'USERPROFILE' })
        $saved = @{}
        foreach ($variable in $variables) {
            $saved[$variable] = [Environment]::GetEnvironmentVariable($variable)
            [Environment]::SetEnvironmentVariable($variable, $userData)
        }
        try {
            $output = & $powershell -NoProfile -NonInteractive @Arguments 2>&1
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output -join "`n"); UserData = $userData }
        }
        finally {
            foreach ($variable in $variables) { [Environment]::SetEnvironmentVariable($variable, $saved[$variable]) }
        }
    }
}

AfterAll {
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'build.ps1 -Task Package' {
    BeforeAll {
        $script:build = Invoke-IsolatedPowerShell 'build' @('-File', (Join-Path $repositoryRoot 'build.ps1'), '-Task', 'Package')
        $script:package = Get-ChildItem (Join-Path $repositoryRoot 'out/packages') -Filter 'RecurringIntegrations.*.nupkg' -ErrorAction SilentlyContinue
    }

    It 'publishes one nupkg with PSResourceGet and leaves no repository registered' {
        $build.ExitCode | Should -Be 0 -Because $build.Output
        @($package).Count | Should -Be 1
        $repositories = Get-Content (Join-Path $build.UserData 'PSResourceGet/PSResourceRepository.xml') -Raw
        $repositories | Should -Not -Match 'RecurringIntegrationsBuild'
    }

    It 'holds the manifest, the cmdlet assembly and the formats at the top, Core and the Windows PowerShell builds under Dependencies' {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($package.FullName)
        try {
            $entries = @($zip.Entries.FullName)
        }
        finally {
            $zip.Dispose()
        }
        $entries | Should -Contain 'RecurringIntegrations.psd1'
        $entries | Should -Contain 'RecurringIntegrations.PowerShell.dll'
        $entries | Should -Contain 'RecurringIntegrations.Format.ps1xml'
        $entries | Should -Contain 'Dependencies/RecurringIntegrations.Core.dll'
        $entries | Should -Contain 'Dependencies/assemblies.txt'
        $entries | Should -Contain 'Dependencies/Desktop/Microsoft.Identity.Client.dll'
    }

    It 'installs with Install-PSResource from a folder repository into a scratch module path and imports' {
        $script = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name RecurringIntegrationsTest -Uri '$($package.DirectoryName)' -Trusted
Install-PSResource -Name RecurringIntegrations -Repository RecurringIntegrationsTest -Scope CurrentUser -TrustRepository -Quiet
`$installed = Get-InstalledPSResource -Name RecurringIntegrations -Scope CurrentUser
`$manifest = Join-Path `$installed.InstalledLocation "RecurringIntegrations/`$(`$installed.Version)/RecurringIntegrations.psd1"
Import-Module `$manifest
'{0}|{1}|{2}' -f `$manifest, (Get-Module RecurringIntegrations).Version, (Get-Command -Module RecurringIntegrations).Count
"@
        $install = Invoke-IsolatedPowerShell 'install' @('-Command', $script) -IsolateHome
        $install.ExitCode | Should -Be 0 -Because $install.Output
        $location, $version, $commandCount = ($install.Output -split "`n")[-1] -split '\|'
        $location | Should -BeLike "$($install.UserData)*"
        $expectedVersion = ([xml] (Get-Content (Join-Path $repositoryRoot 'Directory.Build.props') -Raw)).Project.PropertyGroup.Version
        $version | Should -Be $expectedVersion
        $exported = (Import-PowerShellDataFile (Join-Path $repositoryRoot 'RecurringIntegrations.psd1')).CmdletsToExport
        [int] $commandCount | Should -Be $exported.Count
    }
}
