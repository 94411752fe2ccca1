<#
.SYNOPSIS
    Build, test, demo, package, sign and analyze RecurringIntegrations.
.DESCRIPTION
    Build         : dotnet build; lays the importable module out in out/RecurringIntegrations.
    Test          : the xunit suite (dotnet test), PSScriptAnalyzer, then the Pester suite (tests/Pester) on this
                    PowerShell and on 7.4 LTS; ends with "N passed, M failed".
    Analyze       : PSScriptAnalyzer 1.25.0 with PSScriptAnalyzerSettings.psd1 over the shipped scripts, the manifest
                    and build.ps1.
    Demo          : builds, starts the emulator, runs module/Examples/Demo.ps1 against it, stops the emulator.
                    With -OnPremises the emulator is an on-premises environment (the API under /namespaces/AXSF,
                    sign-in with AD FS) and the demo connects to it as to one.
    Package       : builds in Release, signs when a certificate is given, and writes a PowerShell Gallery package
                    (nupkg) to out/packages (PSResourceGet).
    AutomationZip : builds in Release, signs when a certificate is given, and writes out/packages/RecurringIntegrations.zip,
                    the zip Azure Automation imports (top folder RecurringIntegrations, under 100 MB).
    Sign          : Authenticode-signs the built module's scripts, manifest, format file and own assemblies.
    EmulatorTool  : packs the emulator as a .NET tool (command d365-emulator) into out/tool:
                    dotnet tool install --global --prerelease --add-source out/tool RecurringIntegrations.Emulator
    Clean         : removes out/ and every bin/ and obj/ folder.
.PARAMETER OnPremises
    Demo: run against an on-premises environment (an environment URL with a path, an AD FS authority host).
.PARAMETER CertificatePath
    Sign, Package, AutomationZip: the code-signing certificate as a PFX file.
.PARAMETER CertificatePassword
    The PFX file's password.
.PARAMETER CertificateThumbprint
    Windows only: the code-signing certificate in the CurrentUser or LocalMachine 'My' store.
.PARAMETER TimestampServer
    An RFC 3161 timestamp server, for example http://timestamp.digicert.com, so signatures outlive the certificate.
.EXAMPLE
    ./build.ps1 -Task Demo
.EXAMPLE
    ./build.ps1 -Task Demo -OnPremises
.EXAMPLE
    ./build.ps1 -Task Test
.EXAMPLE
    ./build.ps1 -Task Package -CertificatePath ./codesign.pfx -CertificatePassword (Read-Host -AsSecureString) -TimestampServer http://timestamp.digicert.com
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Analyze', 'Demo', 'Package', 'AutomationZip', 'Sign', 'EmulatorTool', 'Clean')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',
    [switch] $OnPremises,
    [string] $CertificatePath,
    [securestring] $CertificatePassword,
    [string] $CertificateThumbprint,
    [uri] $TimestampServer
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$moduleDir = Join-Path $root 'out/RecurringIntegrations'

function Invoke-Native([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)." }
}

# The build's own output matters only when it fails, and then all of it: so the demo's first screen is the demo.
function Invoke-Build {
    foreach ($project in 'src/RecurringIntegrations.PowerShell', 'src/RecurringIntegrations.Emulator') {
        $output = dotnet build (Join-Path $root $project) -c $Configuration --nologo 2>&1
        if ($LASTEXITCODE -ne 0) {
            $output | Out-Host
            throw "dotnet build $project failed (exit code $LASTEXITCODE)."
        }
    }
    "Built $moduleDir ($Configuration)."
}

# Runs module/Examples/Demo.ps1 against a fresh emulator with sample files. The finally block also runs on Ctrl+C,
# so the emulator never outlives the demo and the sample files go; the report stays in out/demo.
function Invoke-Demo([switch] $OnPremises) {
    Import-Module (Join-Path $root 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $samples = Join-Path ([IO.Path]::GetTempPath()) ('ri-demo-' + [guid]::NewGuid().ToString('N'))
    $inbox = Join-Path $samples 'in'
    $exports = Join-Path $samples 'exports'
    New-Item -ItemType Directory -Path $inbox, $exports | Out-Null
    $emulator = $null
    try {
        # Three imports, one with errors: the emulator turns each 'EMULATOR-ERROR:' line into an execution error.
        Set-Content -Path (Join-Path $inbox 'customer-groups-1.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nWHOLESALE,Wholesale customers"
        Set-Content -Path (Join-Path $inbox 'customer-groups-2.csv') -Value "CUSTOMERGROUPID,DESCRIPTION`nRETAIL,Retail customers"
        Set-Content -Path (Join-Path $inbox 'customer-groups-bad.csv') -Value ("CUSTOMERGROUPID,DESCRIPTION`n" +
            "EMULATOR-ERROR: Customer group 'TOO-LONG-NAME-FOR-FIELD' is longer than 10 characters`n" +
            'EMULATOR-ERROR: Field DESCRIPTION must be filled in')
        # Two files waiting on the export queue.
        Set-Content -Path (Join-Path $exports 'vendors.xml') -Value '<Document><VendVendorV2Entity VENDORACCOUNTNUMBER="V001"/></Document>'
        Set-Content -Path (Join-Path $exports 'products.xml') -Value '<Document><EcoResReleasedProductV2Entity ITEMNUMBER="A100"/></Document>'

        $emulatorOptions = @('--export-folder', $exports, '--processing-delay-ms', '1000')
        if ($OnPremises) { $emulatorOptions += '--on-premises' }
        $emulator = Start-D365Emulator -Configuration $Configuration -ArgumentList $emulatorOptions
        Import-Module (Join-Path $moduleDir 'RecurringIntegrations.psd1') -Force
        $connect = $emulator.ConnectParameters
        & (Join-Path $root 'module/Examples/Demo.ps1') @connect -ImportActivity $emulator.Ready.importActivity `
            -ExportActivity $emulator.Ready.exportActivity -InputFolder $inbox -OutputFolder (Join-Path $samples 'out') `
            -ReportFolder (Join-Path $root 'out/demo')
    }
    finally {
        if ($emulator) { Stop-D365Emulator $emulator }
        Remove-Item -LiteralPath $samples -Recurse -Force -ErrorAction SilentlyContinue
    }
}

# PSScriptAnalyzer 1.25.0: an installed one (CI installs it from ../shared/tools), else ../shared/tools beside the
# repository (Import-PSScriptAnalyzer.ps1 unpacks it once into a cache folder).
function Import-ScriptAnalyzer {
    $installed = Get-Module -ListAvailable PSScriptAnalyzer | Where-Object Version -eq ([version] '1.25.0') | Select-Object -First 1
    if ($installed) {
        Import-Module $installed.Path -Force
        return
    }
    $importer = Join-Path $root '../shared/tools/Import-PSScriptAnalyzer.ps1'
    if (Test-Path -LiteralPath $importer -PathType Leaf) {
        Import-Module (& $importer -PathOnly) -Force
        return
    }
    throw 'PSScriptAnalyzer 1.25.0 is missing: Install-PSResource PSScriptAnalyzer -Version 1.25.0, or put ../shared/tools beside the repository.'
}

# The scripts the analysis covers: what the module ships (the built manifest and every script under module/) and build.ps1.
function Get-AnalyzedScript {
    $manifest = Join-Path $moduleDir 'RecurringIntegrations.psd1'
    if (-not (Test-Path -LiteralPath $manifest)) { Invoke-Build | Out-Null }
    @(Get-Item -LiteralPath $manifest, (Join-Path $root 'build.ps1')) +
        @(Get-ChildItem (Join-Path $root 'module') -Recurse -File -Include *.ps1, *.psm1, *.psd1)
}

# PSScriptAnalyzer with PSScriptAnalyzerSettings.psd1 (the Gallery's rules and Windows PowerShell 5.1 compatibility).
# Prints each finding as file:line rule: message. Returns the suite's counts: a clean file passes, a finding fails.
function Invoke-ScriptAnalysis {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        Import-ScriptAnalyzer
        $files = Get-AnalyzedScript
        $settings = Join-Path $root 'PSScriptAnalyzerSettings.psd1'
        $findings = @(foreach ($file in $files) { Invoke-ScriptAnalyzer -Path $file.FullName -Settings $settings })
    }
    catch {
        "PSScriptAnalyzer did not run: $_" | Out-Host
        return [pscustomobject]@{ Passed = 0; Failed = 1; Name = 'PSScriptAnalyzer'; Seconds = $watch.Elapsed.TotalSeconds }
    }
    foreach ($finding in $findings) {
        '{0}:{1} {2}: {3}' -f $finding.ScriptPath.Substring($root.Length + 1), $finding.Line, $finding.RuleName, $finding.Message | Out-Host
    }
    $flagged = @($findings | ForEach-Object ScriptPath | Sort-Object -Unique).Count
    [pscustomobject]@{
        Passed = $files.Count - $flagged; Failed = $findings.Count
        Name = "PSScriptAnalyzer $((Get-Module PSScriptAnalyzer).Version) ($($files.Count) files, $($findings.Count) findings)"; Seconds = $watch.Elapsed.TotalSeconds
    }
}

# PowerShell 7.4 LTS (Azure Automation's "PowerShell 7.4" runtime, on .NET 8): pwsh-7.4 on PATH, else ../shared/tools
# beside the repository. $null when there is none.
function Find-LtsPowerShell {
    $command = Get-Command pwsh-7.4 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($command) { return $command.Source }
    $shared = Join-Path $root '../shared/tools/pwsh-7.4'
    if (Test-Path -LiteralPath $shared -PathType Leaf) { return (Resolve-Path -LiteralPath $shared).Path }
    $null
}

# One run of tests/Pester/Run-Pester.ps1 in a fresh PowerShell: $PowerShell, or the one running this script. The tests
# start child processes as `pwsh` by name and as their own process's file, so for another version that version is
# linked as `pwsh` into a folder put first on PATH for the run, and this PowerShell's modules are taken off
# PSModulePath. Returns the run's counts and versions.
function Invoke-PesterRun {
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidUsingWriteHost', '', Justification = 'A console report of the run; the function returns the counts.')]
    param([string] $PowerShell)
    $resultFile = New-TemporaryFile
    $savedPath = $env:PATH
    $savedModulePath = $env:PSModulePath
    $linkFolder = $null
    try {
        $runner = Join-Path $root 'tests/Pester/Run-Pester.ps1'
        if ($PowerShell) {
            $linkFolder = Join-Path ([IO.Path]::GetTempPath()) ('ri-pwsh-' + [guid]::NewGuid().ToString('N'))
            New-Item -ItemType Directory -Path $linkFolder | Out-Null
            $link = Join-Path $linkFolder $(if ([Environment]::OSVersion.Platform -eq 'Win32NT') { 'pwsh.exe' } else { 'pwsh' })
            New-Item -ItemType SymbolicLink -Path $link -Target $PowerShell | Out-Null
            $env:PATH = $linkFolder + [IO.Path]::PathSeparator + $env:PATH
            $ownModules = Join-Path $PSHOME 'Modules'
            $env:PSModulePath = (($env:PSModulePath -split [IO.Path]::PathSeparator) | Where-Object { $_ -and $_ -ne $ownModules }) -join [IO.Path]::PathSeparator
            $time = Measure-Command { & $link -NoLogo -NoProfile -NonInteractive -File $runner -ResultFile $resultFile | Out-Host }
        }
        else {
            $time = Measure-Command { & $runner -ResultFile $resultFile | Out-Host }
        }
        $passed, $failed, $version, $runtime = (Get-Content $resultFile -Raw).Trim() -split ' '
        [pscustomobject]@{ Passed = [int] $passed; Failed = [int] $failed; Name = "Pester on PowerShell $version (.NET $runtime)"; Seconds = $time.TotalSeconds }
    }
    catch {
        Write-Host "The Pester suite did not run to the end: $_"
        [pscustomobject]@{ Passed = 0; Failed = 1; Name = "Pester on $(if ($PowerShell) { $PowerShell } else { 'this PowerShell' })"; Seconds = 0 }
    }
    finally {
        $env:PATH = $savedPath
        $env:PSModulePath = $savedModulePath
        Remove-Item $resultFile -ErrorAction SilentlyContinue
        if ($linkFolder) { Remove-Item -LiteralPath $linkFolder -Recurse -Force -ErrorAction SilentlyContinue }
    }
}

# The whole suite: xunit, then Pester on this PowerShell and again on 7.4 LTS (each run even when an earlier one
# failed, so one run shows every failure). Prints one line per suite with its versions, count and time, and ends with
# one line "N passed, M failed" over all of them, which .ci/run reads; throws when anything failed. On CI (CI=true) a
# missing 7.4 fails the run, as a missing pwsh does; elsewhere it is said and skipped.
function Invoke-Test {
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidUsingWriteHost', '', Justification = 'A console report of the run: the lines of dotnet test as they come (Measure-Command keeps the pipeline) and one line per suite.')]
    param()
    $xunit = Measure-Command {
        $script:xunitOutput = dotnet test (Join-Path $root 'RecurringIntegrations.slnx') -c $Configuration --nologo 2>&1 |
            ForEach-Object { Write-Host $_; "$_" }
    }
    $xunitExit = $LASTEXITCODE
    # One summary line per test assembly: "Passed!  - Failed:     0, Passed:   348, Skipped: ..."
    $xunitPassed = 0; $xunitFailed = 0
    foreach ($line in $xunitOutput) {
        if ($line -match 'Failed:\s*(\d+), Passed:\s*(\d+),') { $xunitFailed += [int] $Matches[1]; $xunitPassed += [int] $Matches[2] }
    }
    if ($xunitExit -ne 0 -and $xunitFailed -eq 0) {
        Write-Host "dotnet test failed before running its tests (exit code $xunitExit)."
        $xunitFailed = 1
    }
    $suites = @([pscustomobject]@{ Passed = $xunitPassed; Failed = $xunitFailed; Name = "xunit on .NET $((dotnet --version) -join '') SDK"; Seconds = $xunit.TotalSeconds })

    $suites += Invoke-ScriptAnalysis
    $suites += Invoke-PesterRun
    $lts = Find-LtsPowerShell
    if ($lts) {
        $suites += Invoke-PesterRun $lts
    }
    elseif ($env:CI -eq 'true') {
        Write-Host 'PowerShell 7.4 LTS is required on CI: put pwsh-7.4 on PATH or ../shared/tools/pwsh-7.4 beside the clone.'
        $suites += [pscustomobject]@{ Passed = 0; Failed = 1; Name = 'Pester on PowerShell 7.4 (missing)'; Seconds = 0 }
    }
    else {
        Write-Host 'PowerShell 7.4 LTS not found (pwsh-7.4 on PATH or ../shared/tools/pwsh-7.4): the Pester suite ran on this PowerShell only.'
    }

    foreach ($suite in $suites) {
        Write-Host ('{0}: {1} passed, {2} failed in {3:0} s' -f $suite.Name, $suite.Passed, $suite.Failed, $suite.Seconds)
    }
    $failed = ($suites | Measure-Object Failed -Sum).Sum
    Write-Host ('{0} passed, {1} failed' -f ($suites | Measure-Object Passed -Sum).Sum, $failed)
    if ($failed -gt 0) { throw "$failed test(s) failed." }
}

# A PowerShell Gallery package in out/packages, made by publishing to a folder repository registered for this run
# only: PSResourceGet where it is installed (PowerShell 7.4+ ships it), else PowerShellGet 2 (Windows PowerShell 5.1).
function Invoke-Package {
    # PowerShellGet ships with Windows PowerShell 5.1 (1.0.0.1, in Program Files); the analyzer's 5.1 profile lists only
    # the modules under System32. The branch runs only where Get-Command found Publish-Module.
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseCompatibleCommands', 'Get-PSRepository', Justification = 'PowerShellGet ships with Windows PowerShell 5.1.')]
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseCompatibleCommands', 'Register-PSRepository', Justification = 'PowerShellGet ships with Windows PowerShell 5.1.')]
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseCompatibleCommands', 'Unregister-PSRepository', Justification = 'PowerShellGet ships with Windows PowerShell 5.1.')]
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseCompatibleCommands', 'Publish-Module', Justification = 'PowerShellGet ships with Windows PowerShell 5.1.')]
    param()
    $packages = Join-Path $root 'out/packages'
    New-Item -ItemType Directory -Force -Path $packages | Out-Null
    # A repository refuses a version it already holds: a rebuild replaces the package.
    Remove-Item -Path (Join-Path $packages 'RecurringIntegrations.*.nupkg') -ErrorAction SilentlyContinue
    Test-ModuleManifest (Join-Path $moduleDir 'RecurringIntegrations.psd1') | Out-Null
    $repository = 'RecurringIntegrationsBuild'
    if (Get-Command Publish-PSResource -ErrorAction SilentlyContinue) {
        if (Get-PSResourceRepository -Name $repository -ErrorAction SilentlyContinue) { Unregister-PSResourceRepository -Name $repository }
        Register-PSResourceRepository -Name $repository -Uri $packages -Trusted
        try { Publish-PSResource -Path $moduleDir -Repository $repository }
        finally { Unregister-PSResourceRepository -Name $repository }
    }
    elseif (Get-Command Publish-Module -ErrorAction SilentlyContinue) {
        if (Get-PSRepository -Name $repository -ErrorAction SilentlyContinue) { Unregister-PSRepository -Name $repository }
        Register-PSRepository -Name $repository -SourceLocation $packages -PublishLocation $packages -InstallationPolicy Trusted
        try { Publish-Module -Path $moduleDir -Repository $repository -NuGetApiKey 'local' }
        finally { Unregister-PSRepository -Name $repository }
    }
    else {
        throw 'The Package task needs PSResourceGet (Publish-PSResource; PowerShell 7.4+ ships it, or Install-Module Microsoft.PowerShell.PSResourceGet) or PowerShellGet 2 (Publish-Module).'
    }
    Get-ChildItem $packages -Filter *.nupkg | ForEach-Object { "Package: $($_.FullName)" }
}

# The emulator as a .NET tool package in out/tool (its own folder: the Package task replaces what out/packages holds).
function Invoke-EmulatorTool {
    $tool = Join-Path $root 'out/tool'
    Invoke-Native 'dotnet pack (the emulator tool)' { dotnet pack (Join-Path $root 'src/RecurringIntegrations.Emulator') -c $Configuration -o $tool --nologo -v quiet }
    Get-ChildItem $tool -Filter 'RecurringIntegrations.Emulator.*.nupkg' | ForEach-Object { "Emulator tool: $($_.FullName)" }
}

# The files Sign signs: the shipped scripts, the manifest, the format file and our own assemblies. Third-party
# assemblies keep their publishers' signatures.
function Get-SignedFile {
    Get-ChildItem $moduleDir -Recurse -File | Where-Object {
        $_.Extension -in '.ps1', '.psm1', '.psd1', '.ps1xml' -or ($_.Extension -eq '.dll' -and $_.Name -like 'RecurringIntegrations.*')
    }
}

# Authenticode signatures on the built module, before it is packed: Set-AuthenticodeSignature on Windows (a PFX file or
# a certificate of the 'My' store), osslsigncode elsewhere (a PFX file; it signs PE files and PowerShell scripts alike).
# The password goes to osslsigncode on its standard input, never on its command line. A file catalog
# (New-FileCatalog) is Windows-only: the README says how a publisher makes one.
function Invoke-Sign {
    param([string] $CertificatePath, [securestring] $CertificatePassword, [string] $CertificateThumbprint, [uri] $TimestampServer)
    if (-not $CertificatePath -and -not $CertificateThumbprint) {
        throw 'The Sign task needs -CertificatePath <pfx> (and -CertificatePassword when the file has one), or -CertificateThumbprint on Windows.'
    }
    if (-not (Test-Path -LiteralPath (Join-Path $moduleDir 'RecurringIntegrations.psd1'))) { throw "No built module in $moduleDir to sign: build it first (./build.ps1)." }
    $files = @(Get-SignedFile)
    $onWindows = [Environment]::OSVersion.Platform -eq 'Win32NT'
    if ($onWindows) {
        $certificate = if ($CertificateThumbprint) {
            Get-ChildItem Cert:\CurrentUser\My, Cert:\LocalMachine\My | Where-Object Thumbprint -eq $CertificateThumbprint | Select-Object -First 1
        }
        else {
            [Security.Cryptography.X509Certificates.X509Certificate2]::new((Resolve-Path -LiteralPath $CertificatePath).Path, $CertificatePassword)
        }
        if (-not $certificate) { throw "No certificate with thumbprint $CertificateThumbprint in the CurrentUser or LocalMachine 'My' store." }
        foreach ($file in $files) {
            $signing = @{ FilePath = $file.FullName; Certificate = $certificate; HashAlgorithm = 'SHA256' }
            if ($TimestampServer) { $signing.TimestampServer = "$TimestampServer" }
            $signature = Set-AuthenticodeSignature @signing
            if ($signature.Status -ne 'Valid') { throw "Signing $($file.FullName) failed: $($signature.StatusMessage)" }
        }
    }
    else {
        if ($CertificateThumbprint) { throw '-CertificateThumbprint reads the Windows certificate store; on this system give -CertificatePath <pfx>.' }
        if (-not (Get-Command osslsigncode -CommandType Application -ErrorAction SilentlyContinue)) {
            throw 'Signing outside Windows needs osslsigncode 2.8 or later on PATH (apt-get install osslsigncode, brew install osslsigncode).'
        }
        $pfx = (Resolve-Path -LiteralPath $CertificatePath).Path
        $password = if ($CertificatePassword) { [Net.NetworkCredential]::new('', $CertificatePassword).Password } else { '' }
        foreach ($file in $files) {
            $signed = "$($file.FullName).signed"
            $arguments = @('sign', '-pkcs12', $pfx, '-readpass', '-', '-h', 'sha256', '-n', 'RecurringIntegrations')
            if ($TimestampServer) { $arguments += '-ts', "$TimestampServer" }
            $output = $password | & osslsigncode @arguments -in $file.FullName -out $signed 2>&1
            if ($LASTEXITCODE -ne 0) {
                Remove-Item -LiteralPath $signed -ErrorAction SilentlyContinue
                throw "osslsigncode could not sign $($file.FullName) (exit code $LASTEXITCODE): $($output -join ' ')"
            }
            Move-Item -LiteralPath $signed -Destination $file.FullName -Force
        }
    }
    "Signed $($files.Count) files in $moduleDir."
}

# The zip Azure Automation imports: the module folder itself at the top (Automation names the module after it), and at
# most 100 MB, Automation's limit for a module.
function Invoke-AutomationZip {
    $packages = Join-Path $root 'out/packages'
    New-Item -ItemType Directory -Force -Path $packages | Out-Null
    $zip = Join-Path $packages 'RecurringIntegrations.zip'
    Remove-Item -LiteralPath $zip -ErrorAction SilentlyContinue
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    [IO.Compression.ZipFile]::CreateFromDirectory($moduleDir, $zip, [IO.Compression.CompressionLevel]::Optimal, $true)
    $size = (Get-Item -LiteralPath $zip).Length
    $limit = 100MB
    if ($size -ge $limit) { throw ('{0} is {1:0.0} MB; Azure Automation imports modules up to 100 MB.' -f $zip, ($size / 1MB)) }
    'Automation zip: {0} ({1:0.0} MB of the 100 MB limit; top folder RecurringIntegrations/)' -f $zip, ($size / 1MB)
}

$signing = @{ CertificatePath = $CertificatePath; CertificatePassword = $CertificatePassword; CertificateThumbprint = $CertificateThumbprint; TimestampServer = $TimestampServer }
switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Test }
    'Demo' {
        Invoke-Build
        Invoke-Demo -OnPremises:$OnPremises
    }
    'Analyze' {
        $analysis = Invoke-ScriptAnalysis
        '{0}: {1} passed, {2} failed' -f $analysis.Name, $analysis.Passed, $analysis.Failed
        if ($analysis.Failed -gt 0) { throw "PSScriptAnalyzer: $($analysis.Failed) finding(s)." }
    }
    'Package' {
        $Configuration = 'Release'
        Invoke-Build
        if ($CertificatePath -or $CertificateThumbprint) { Invoke-Sign @signing }
        Invoke-Package
    }
    'EmulatorTool' { Invoke-EmulatorTool }
    'AutomationZip' {
        $Configuration = 'Release'
        Invoke-Build
        if ($CertificatePath -or $CertificateThumbprint) { Invoke-Sign @signing }
        Invoke-AutomationZip
    }
    'Sign' { Invoke-Sign @signing }
    'Clean' {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $root 'out')
        Get-ChildItem $root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
    }
}
