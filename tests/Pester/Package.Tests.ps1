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

    It 'carries the version and the metadata of the manifest in its nuspec' {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($package.FullName)
        try {
            $reader = [IO.StreamReader]::new(($zip.Entries | Where-Object FullName -eq 'RecurringIntegrations.nuspec').Open())
            try { [xml] $nuspec = $reader.ReadToEnd() } finally { $reader.Dispose() }
        }
        finally {
            $zip.Dispose()
        }
        $metadata = $nuspec.package.metadata
        $manifest = Import-PowerShellDataFile (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1')
        $psData = $manifest.PrivateData.PSData
        $props = ([xml] (Get-Content (Join-Path $repositoryRoot 'Directory.Build.props') -Raw)).Project.PropertyGroup
        $metadata.version | Should -Be "$($props.VersionPrefix)-$($props.VersionSuffix)".TrimEnd('-')
        $package.Name | Should -Be "RecurringIntegrations.$($metadata.version).nupkg"
        $metadata.authors | Should -Be $manifest.Author
        $metadata.copyright | Should -Be $manifest.Copyright
        $metadata.description | Should -Be $manifest.Description
        $metadata.projectUrl | Should -Be $psData.ProjectUri
        $metadata.licenseUrl | Should -Be $psData.LicenseUri
        $metadata.releaseNotes | Should -Be $psData.ReleaseNotes
        foreach ($tag in $psData.Tags) { $metadata.tags -split ' ' | Should -Contain $tag }
    }

    It 'installs with Install-PSResource from a folder repository into a scratch module path and imports' {
        $script = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name RecurringIntegrationsTest -Uri '$($package.DirectoryName)' -Trusted
Install-PSResource -Name RecurringIntegrations -Repository RecurringIntegrationsTest -Scope CurrentUser -TrustRepository -Prerelease -Quiet
`$installed = Get-InstalledPSResource -Name RecurringIntegrations -Scope CurrentUser
`$manifest = Join-Path `$installed.InstalledLocation "RecurringIntegrations/`$(`$installed.Version)/RecurringIntegrations.psd1"
Import-Module `$manifest
`$module = Get-Module RecurringIntegrations
'{0}|{1}|{2}|{3}' -f `$manifest, `$module.Version, `$module.PrivateData.PSData.Prerelease, (Get-Command -Module RecurringIntegrations).Count
"@
        $install = Invoke-IsolatedPowerShell 'install' @('-Command', $script) -IsolateHome
        $install.ExitCode | Should -Be 0 -Because $install.Output
        $location, $version, $prerelease, $commandCount = ($install.Output -split "`n")[-1] -split '\|'
        $location | Should -BeLike "$($install.UserData)*"
        $props = ([xml] (Get-Content (Join-Path $repositoryRoot 'Directory.Build.props') -Raw)).Project.PropertyGroup
        $version | Should -Be $props.VersionPrefix
        $prerelease | Should -Be "$($props.VersionSuffix)"
        $exported = (Import-PowerShellDataFile (Join-Path $repositoryRoot 'RecurringIntegrations.psd1')).CmdletsToExport
        [int] $commandCount | Should -Be $exported.Count
    }
}

Describe 'build.ps1 -Task AutomationZip' {
    BeforeAll {
        $script:zipBuild = Invoke-IsolatedPowerShell 'zip' @('-File', (Join-Path $repositoryRoot 'build.ps1'), '-Task', 'AutomationZip')
        $script:zip = Join-Path $repositoryRoot 'out/packages/RecurringIntegrations.zip'
    }

    It 'writes the zip with the module folder at the top, and prints its size under the 100 MB limit' {
        $zipBuild.ExitCode | Should -Be 0 -Because $zipBuild.Output
        $size = (Get-Item $zip).Length
        $size | Should -BeLessThan 100MB
        $zipBuild.Output | Should -Match ('Automation zip: .*RecurringIntegrations\.zip \({0:0.0} MB of the 100 MB limit' -f ($size / 1MB))
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $archive = [IO.Compression.ZipFile]::OpenRead($zip)
        try {
            $entries = @($archive.Entries.FullName)
        }
        finally {
            $archive.Dispose()
        }
        $entries | Where-Object { $_ -notlike 'RecurringIntegrations/*' } | Should -BeNullOrEmpty
        $entries | Should -Contain 'RecurringIntegrations/RecurringIntegrations.psd1'
        $entries | Should -Contain 'RecurringIntegrations/Dependencies/RecurringIntegrations.Core.dll'
        $entries | Should -Contain 'RecurringIntegrations/Dependencies/Desktop/Microsoft.Identity.Client.dll'
    }

    It 'unpacks into a module folder that Import-Module finds by name, as Azure Automation does' {
        $modules = Join-Path $work 'automation-modules'
        Expand-Archive -LiteralPath $zip -DestinationPath $modules
        $script = "`$env:PSModulePath = '$modules' + [IO.Path]::PathSeparator + `$env:PSModulePath; Import-Module RecurringIntegrations; " +
            "'{0}|{1}' -f (Get-Module RecurringIntegrations).ModuleBase, (Get-Command -Module RecurringIntegrations).Count"
        $import = Invoke-IsolatedPowerShell 'zip-import' @('-Command', $script)
        $import.ExitCode | Should -Be 0 -Because $import.Output
        $base, $count = ($import.Output -split "`n")[-1] -split '\|'
        $base | Should -Be (Join-Path $modules 'RecurringIntegrations')
        [int] $count | Should -Be (Import-PowerShellDataFile (Join-Path $repositoryRoot 'RecurringIntegrations.psd1')).CmdletsToExport.Count
    }
}
