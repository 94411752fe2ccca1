# The runtime floor, checked before any assembly of the module loads (the manifest lists this file in NestedModules,
# which PowerShell imports before the RootModule): on a runtime below the floor the cmdlet assembly fails to load with
# an error about netstandard 2.0.0.0 or a damaged file, which says neither what is wrong nor what to do.
#   Windows PowerShell 5.1 needs .NET Framework 4.7.2: the first with netstandard 2.0 built in and an HttpClient not
#   capped at 2 connections per host. The manifest's DotNetFrameworkVersion only writes a verbose line there.
#   PowerShell 7 needs 7.2 (.NET 6): the module's loader is a net6.0 assembly.
# It also names a cmdlet assembly Windows still marks as downloaded (a zip extracted with Explorer): .NET Framework
# refuses to load it with 0x80131515, which reads as a damaged install.
# This file must parse and run on Windows PowerShell 5.1.

# .NET Framework's "Release" registry value of each version from 4.5 on, lowest first: the documented way to tell
# which one is installed (Environment.Version reads 4.0.30319 for all of them).
$script:frameworkReleases = [ordered] @{
    378389 = '4.5'; 378675 = '4.5.1'; 379893 = '4.5.2'; 393295 = '4.6'; 394254 = '4.6.1'; 394802 = '4.6.2'
    460798 = '4.7'; 461308 = '4.7.1'; 461808 = '4.7.2'; 528040 = '4.8'; 533320 = '4.8.1'
}
$script:frameworkFloor = 461808
$script:powerShellFloor = [version] '7.2'

<#
.SYNOPSIS
    The reason this runtime cannot load the module, as an ErrorRecord (ErrorId RuntimeNotSupported or
    ModuleFileBlocked), or nothing. The texts follow those entries of ErrorCatalog in Core, which cannot load here.
.PARAMETER FrameworkRelease
    .NET Framework's Release registry value; $null when it is not there (Windows PowerShell only reads it).
.PARAMETER BlockedFile
    The cmdlet assembly when it carries the mark of the web (a Zone.Identifier stream), else nothing.
#>
function Get-RuntimeProblem {
    param(
        [Parameter(Mandatory)] [string] $Edition,
        [Parameter(Mandatory)] [version] $PSVersion,
        [Nullable[int]] $FrameworkRelease,
        [string] $BlockedFile
    )
    $errorId = 'RuntimeNotSupported'
    $category = [System.Management.Automation.ErrorCategory]::ResourceUnavailable
    if ($Edition -eq 'Desktop' -and $null -ne $FrameworkRelease -and $FrameworkRelease -ge $frameworkFloor -and $BlockedFile) {
        $message = "The module file $BlockedFile is blocked: Windows marks it as downloaded from the internet, and .NET Framework does not load such files."
        $advice = "Unblock the module's files, then import it in a new PowerShell window: Get-ChildItem -LiteralPath '$(Split-Path -Parent $BlockedFile)' -Recurse | Unblock-File"
        $target = $BlockedFile
        $errorId = 'ModuleFileBlocked'
        $category = [System.Management.Automation.ErrorCategory]::SecurityError
    }
    elseif ($Edition -eq 'Desktop') {
        if ($null -ne $FrameworkRelease -and $FrameworkRelease -ge $frameworkFloor) { return }
        $found = 'no .NET Framework 4.5 or later'
        if ($null -ne $FrameworkRelease) {
            $name = '4.5'
            # GetEnumerator: an [ordered] dictionary indexed by an int reads by position, not by key.
            foreach ($entry in $frameworkReleases.GetEnumerator()) { if ($FrameworkRelease -ge $entry.Key) { $name = $entry.Value } }
            $found = ".NET Framework $name (release $FrameworkRelease)"
        }
        $message = "RecurringIntegrations needs .NET Framework 4.7.2 or later; this computer has $found."
        $advice = 'Install .NET Framework 4.8 (https://dotnet.microsoft.com/download/dotnet-framework/net48) and restart the computer, or PowerShell 7.2 or later (https://aka.ms/powershell).'
        $target = $found
    }
    elseif ($PSVersion -lt $powerShellFloor) {
        $message = "RecurringIntegrations needs PowerShell 7.2 or later; this computer has PowerShell $PSVersion."
        $advice = 'Install PowerShell 7.4 LTS or later (https://aka.ms/powershell), or use Windows PowerShell 5.1.'
        $target = "PowerShell $PSVersion"
    }
    else {
        return
    }
    $record = [System.Management.Automation.ErrorRecord]::new([System.PlatformNotSupportedException]::new("$message $advice"),
        $errorId, $category, $target)
    $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($message)
    $record.ErrorDetails.RecommendedAction = $advice
    $record
}

$frameworkRelease = $null
$blockedFile = $null
if ($PSVersionTable.PSEdition -eq 'Desktop') {
    $frameworkRelease = (Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' -Name Release -ErrorAction SilentlyContinue).Release
    $cmdletAssembly = Join-Path $PSScriptRoot 'RecurringIntegrations.PowerShell.dll'
    if (Get-Item -LiteralPath $cmdletAssembly -Stream Zone.Identifier -ErrorAction SilentlyContinue) { $blockedFile = $cmdletAssembly }
}
$problem = Get-RuntimeProblem -Edition $PSVersionTable.PSEdition -PSVersion $PSVersionTable.PSVersion -FrameworkRelease $frameworkRelease -BlockedFile $blockedFile
if ($problem) { throw $problem }
