#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# What keeps the module working on Windows PowerShell 5.1, which this suite cannot run: the runtime floor's decision
# with the runtime as input, the floor failing the import before any assembly loads, and every shipped script read with
# PowerShell's parser for syntax and parameters 5.1 lacks. (PSScriptAnalyzer's compatibility rules are a separate check.)

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:powershell = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    $script:moduleFolder = Join-Path $repositoryRoot 'out/RecurringIntegrations'
    $script:runtime = Import-Module (Join-Path $moduleFolder 'RecurringIntegrations.Runtime.psm1') -Force -PassThru

    function Get-RuntimeProblem {
        param([string] $Edition, [version] $PSVersion, [Nullable[int]] $FrameworkRelease, [string] $BlockedFile)
        & $runtime { Get-RuntimeProblem @args } -Edition $Edition -PSVersion $PSVersion -FrameworkRelease $FrameworkRelease -BlockedFile $BlockedFile
    }

    # Every .ps1 and .psm1 a user gets: the built module's (examples, the runtime check), the emulator's, build.ps1.
    $script:shippedScripts = @(Get-ChildItem -LiteralPath $moduleFolder -Recurse -Include *.ps1, *.psm1) +
        @(Get-Item -LiteralPath (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1'),
            (Join-Path $repositoryRoot 'build.ps1'))

    # Parameters that Windows PowerShell 5.1's cmdlets do not have, by cmdlet (each name as PowerShell 7 binds it).
    $script:parametersMissingIn51 = @{
        'ForEach-Object'    = 'Parallel', 'ThrottleLimit', 'TimeoutSeconds', 'AsJob', 'UseNewRunspace'
        'ConvertFrom-Json'  = 'AsHashtable', 'Depth', 'NoEnumerate', 'DateKind'
        'ConvertTo-Json'    = 'AsArray', 'EnumsAsStrings', 'EscapeHandling'
        'Join-Path'         = 'AdditionalChildPath'
        'Get-Content'       = 'AsByteStream'
        'Set-Content'       = 'AsByteStream'
        'Add-Content'       = 'AsByteStream'
        'Export-Csv'        = 'UseQuotes', 'QuoteFields', 'IncludeTypeInformation', 'NoHeader'
        'ConvertTo-Csv'     = 'UseQuotes', 'QuoteFields', 'IncludeTypeInformation', 'NoHeader'
        'Select-String'     = 'Raw', 'NoEmphasis'
        'Sort-Object'       = 'Top', 'Bottom', 'Stable'
        'Get-Date'          = 'AsUTC', 'UnixTimeSeconds'
        'Split-Path'        = 'LeafBase', 'Extension'
        'Get-ChildItem'     = 'FollowSymlink'
        'Start-Process'     = 'Environment'
        'Invoke-RestMethod' = 'SkipCertificateCheck', 'StatusCodeVariable', 'ResponseHeadersVariable', 'Authentication', 'Token',
        'Form', 'SkipHttpErrorCheck', 'MaximumRetryCount', 'RetryIntervalSec', 'SkipHeaderValidation', 'SslProtocol', 'NoProxy',
        'Resume', 'CustomMethod', 'ConnectionTimeoutSeconds', 'OperationTimeoutSeconds', 'HttpVersion', 'AllowInsecureRedirect'
        'Invoke-WebRequest' = 'SkipCertificateCheck', 'StatusCodeVariable', 'ResponseHeadersVariable', 'Authentication', 'Token',
        'Form', 'SkipHttpErrorCheck', 'MaximumRetryCount', 'RetryIntervalSec', 'SkipHeaderValidation', 'SslProtocol', 'NoProxy',
        'Resume', 'CustomMethod', 'ConnectionTimeoutSeconds', 'OperationTimeoutSeconds', 'HttpVersion', 'AllowInsecureRedirect'
    }
    # Cmdlets Windows PowerShell 5.1 does not have at all.
    $script:commandsMissingIn51 = 'Get-Error', 'Join-String', 'Test-Json', 'Get-Uptime', 'Remove-Alias', 'Remove-Service',
        'ConvertFrom-Markdown', 'Show-Markdown', 'ConvertTo-CliXml', 'ConvertFrom-CliXml', 'Start-ThreadJob'
    # The -Encoding names Windows PowerShell 5.1's file cmdlets accept (utf8NoBOM, utf8BOM, ansi are PowerShell 7's).
    $script:encodingsOf51 = 'Unknown', 'String', 'Unicode', 'BigEndianUnicode', 'UTF8', 'UTF7', 'UTF32', 'Ascii', 'Default', 'Oem', 'Byte'

    # True when $Ast only runs after a test of the edition or version: inside an if whose condition reads
    # $PSVersionTable.PSEdition or .PSVersion, or on the right of an -and/-or whose left side does.
    function Test-EditionGuarded([System.Management.Automation.Language.Ast] $Ast) {
        $guard = 'PSVersionTable\.(PSEdition|PSVersion)'
        for ($child = $Ast; $child.Parent; $child = $child.Parent) {
            $parent = $child.Parent
            if ($parent -is [System.Management.Automation.Language.BinaryExpressionAst] -and $parent.Right -eq $child -and
                $parent.Operator -in 'And', 'Or' -and $parent.Left.Extent.Text -match $guard) { return $true }
            if ($parent -is [System.Management.Automation.Language.IfStatementAst]) {
                foreach ($clause in $parent.Clauses) {
                    if ($clause.Item1 -eq $child) { break }
                    if ($clause.Item1.Extent.Text -match $guard) { return $true }
                }
            }
        }
        $false
    }

    $script:commands = @{}
    # Each construct of $Text that Windows PowerShell 5.1 cannot parse or run, as "line: what".
    function Find-WindowsPowerShellGap([string] $Text) {
        $tokens = $null; $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Text, [ref] $tokens, [ref] $errors)
        foreach ($parseError in $errors) { "$($parseError.Extent.StartLineNumber): does not parse: $($parseError.Message)" }
        $found = $ast.FindAll({ $true }, $true)
        foreach ($node in $found) {
            $line = $node.Extent.StartLineNumber
            switch ($node) {
                { $_ -is [System.Management.Automation.Language.TernaryExpressionAst] } { "${line}: ternary operator ? :" }
                { $_ -is [System.Management.Automation.Language.PipelineChainAst] } { "${line}: pipeline chain && or ||" }
                { $_ -is [System.Management.Automation.Language.BinaryExpressionAst] -and $_.Operator -eq 'QuestionQuestion' } { "${line}: null-coalescing ??" }
                { $_ -is [System.Management.Automation.Language.AssignmentStatementAst] -and $_.Operator -eq 'QuestionQuestionEquals' } { "${line}: null-coalescing assignment ??=" }
                { $_ -is [System.Management.Automation.Language.MemberExpressionAst] -and $_.NullConditional } { "${line}: null-conditional member access ?." }
                { $_ -is [System.Management.Automation.Language.IndexExpressionAst] -and $_.NullConditional } { "${line}: null-conditional index ?[]" }
                { $_ -is [System.Management.Automation.Language.ScriptBlockAst] -and $_.CleanBlock } { "${line}: clean block" }
                { $_ -is [System.Management.Automation.Language.StringConstantExpressionAst] -or $_ -is [System.Management.Automation.Language.ExpandableStringExpressionAst] } {
                    if ($_.StringConstantType -ne 'SingleQuoted' -and $_.StringConstantType -ne 'SingleQuotedHereString' -and $_.Extent.Text -match '`u\{') { "${line}: unicode escape ``u{}" }
                }
                { $_ -is [System.Management.Automation.Language.VariableExpressionAst] -and $_.VariablePath.UserPath -in 'IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR' } {
                    if (-not (Test-EditionGuarded $_)) { "${line}: `$$($_.VariablePath.UserPath) without a test of `$PSVersionTable.PSEdition first (undefined in 5.1)" }
                }
                { $_ -is [System.Management.Automation.Language.CommandAst] } {
                    $name = $_.GetCommandName()
                    if ($name -and -not $commands.ContainsKey($name)) {
                        $command = Get-Command $name -ErrorAction SilentlyContinue | Select-Object -First 1
                        if ($command -is [System.Management.Automation.AliasInfo]) { $command = $command.ResolvedCommand }
                        $commands[$name] = $command
                    }
                    $command = if ($name) { $commands[$name] }
                    if ($command) {
                        if ($command.Name -in $commandsMissingIn51) { "${line}: $($command.Name) is not in Windows PowerShell 5.1" }
                        $binding = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($_, $true)
                        if ($command.Name -eq 'Export-Csv' -and -not ($binding.BoundParameters.ContainsKey('NoTypeInformation') -and $binding.BoundParameters.ContainsKey('Encoding'))) {
                            "${line}: Export-Csv without -NoTypeInformation and -Encoding (5.1 writes a #TYPE line and ASCII)"
                        }
                        foreach ($parameter in $binding.BoundParameters.Keys) {
                            if ($parameter -in $parametersMissingIn51[$command.Name]) { "${line}: $($command.Name) -$parameter is not in Windows PowerShell 5.1" }
                            if ($parameter -eq 'Encoding' -and $binding.BoundParameters[$parameter].ConstantValue -is [string] -and
                                $binding.BoundParameters[$parameter].ConstantValue -notin $encodingsOf51) {
                                "${line}: -Encoding $($binding.BoundParameters[$parameter].ConstantValue) is not a Windows PowerShell 5.1 encoding"
                            }
                        }
                    }
                }
            }
        }
    }
}

AfterAll {
    Remove-Module $runtime -Force -ErrorAction SilentlyContinue
}

Describe 'The runtime floor' {
    It 'refuses .NET Framework <Name> naming the version found and how to fix it' -ForEach @(
        @{ Name = '4.6.2'; Release = 394802 }
        @{ Name = '4.7.1'; Release = 461308 }
        @{ Name = '4.5'; Release = 378389 }
    ) {
        $problem = Get-RuntimeProblem -Edition Desktop -PSVersion 5.1.17763.1 -FrameworkRelease $Release
        $problem.FullyQualifiedErrorId | Should -Be 'RuntimeNotSupported'
        $problem.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $problem.ErrorDetails.Message | Should -Be "RecurringIntegrations needs .NET Framework 4.7.2 or later; this computer has .NET Framework $Name (release $Release)."
        $problem.ErrorDetails.RecommendedAction | Should -BeLike 'Install .NET Framework 4.8 (https://*) and restart the computer, or PowerShell 7.2 or later*'
        $problem.Exception.Message | Should -BeLike "*$Name*Install .NET Framework 4.8*"
    }

    It 'refuses a Windows PowerShell without .NET Framework 4.5 or later in the registry' {
        (Get-RuntimeProblem -Edition Desktop -PSVersion 5.1 -FrameworkRelease $null).ErrorDetails.Message |
            Should -Be 'RecurringIntegrations needs .NET Framework 4.7.2 or later; this computer has no .NET Framework 4.5 or later.'
    }

    It 'accepts .NET Framework 4.7.2 (both releases), 4.8 and 4.8.1' -ForEach @(461808, 461814, 528040, 528372, 533320) {
        Get-RuntimeProblem -Edition Desktop -PSVersion 5.1.17763.1 -FrameworkRelease $_ | Should -BeNullOrEmpty
    }

    It 'refuses PowerShell <_>, naming it, where the cmdlet assembly would only say the module file is damaged' -ForEach @('7.0.3', '7.1.7', '6.2.7') {
        $problem = Get-RuntimeProblem -Edition Core -PSVersion $_
        $problem.FullyQualifiedErrorId | Should -Be 'RuntimeNotSupported'
        $problem.ErrorDetails.Message | Should -Be "RecurringIntegrations needs PowerShell 7.2 or later; this computer has PowerShell $_."
        $problem.ErrorDetails.RecommendedAction | Should -BeLike 'Install PowerShell 7.4 LTS or later*'
        $problem.Exception.Message | Should -Not -BeLike '*reinstall*'
    }

    It 'accepts PowerShell <_>' -ForEach @('7.2.0', '7.4.6', $PSVersionTable.PSVersion.ToString()) {
        Get-RuntimeProblem -Edition Core -PSVersion $_ | Should -BeNullOrEmpty
    }

    It 'names a cmdlet assembly Windows still marks as downloaded, with Unblock-File rather than reinstall' {
        $folder = Join-Path ([IO.Path]::GetTempPath()) 'Downloads/RecurringIntegrations'
        $dll = Join-Path $folder 'RecurringIntegrations.PowerShell.dll'
        $problem = Get-RuntimeProblem -Edition Desktop -PSVersion 5.1 -FrameworkRelease 528040 -BlockedFile $dll
        $problem.FullyQualifiedErrorId | Should -Be 'ModuleFileBlocked'
        $problem.CategoryInfo.Category | Should -Be 'SecurityError'
        $problem.ErrorDetails.Message | Should -BeLike "The module file $dll is blocked:*"
        $problem.ErrorDetails.RecommendedAction | Should -BeLike "*Get-ChildItem -LiteralPath '$folder' -Recurse | Unblock-File"
        $problem.Exception.Message | Should -Not -BeLike '*reinstall*'
        # The floor comes first: an unblocked file on .NET Framework 4.6.2 still could not load.
        (Get-RuntimeProblem -Edition Desktop -PSVersion 5.1 -FrameworkRelease 394802 -BlockedFile $dll).FullyQualifiedErrorId | Should -Be 'RuntimeNotSupported'
        Get-RuntimeProblem -Edition Desktop -PSVersion 5.1 -FrameworkRelease 528040 | Should -BeNullOrEmpty
    }

    It 'follows the texts of the error catalogue' {
        $core = Join-Path $moduleFolder 'Dependencies/RecurringIntegrations.Core.dll'
        # In a separate process: Core must not load into this one, where the module loads it into its own context.
        $entries = & $powershell -NoProfile -Command "Add-Type -LiteralPath '$core'; 'RuntimeNotSupported', 'ModuleFileBlocked' | ForEach-Object { [RecurringIntegrations.Core.Errors.ErrorCatalog]::`$_ } | Select-Object ErrorId, Message, Advice | ConvertTo-Json" | ConvertFrom-Json
        $pattern = { param($format) '^' + ([regex]::Escape($format) -replace '\\\{\d\}', '.+') + '$' }
        $problems = (Get-RuntimeProblem -Edition Desktop -PSVersion 5.1 -FrameworkRelease 394802), (Get-RuntimeProblem -Edition Core -PSVersion 7.1.7),
            (Get-RuntimeProblem -Edition Desktop -PSVersion 5.1 -FrameworkRelease 528040 -BlockedFile 'C:\m\RecurringIntegrations.PowerShell.dll')
        foreach ($problem in $problems) {
            $entry = $entries | Where-Object ErrorId -eq $problem.FullyQualifiedErrorId
            $problem.ErrorDetails.Message | Should -Match (& $pattern $entry.Message)
            $problem.ErrorDetails.RecommendedAction | Should -Match (& $pattern $entry.Advice)
        }
    }

    It 'fails Import-Module before the module initializer runs' {
        # A copy of the built module whose floor is above this PowerShell: the manifest must run the check before the cmdlet
        # assembly's initializer, which loads Core (and on PowerShell 7 the net6.0 loader).
        $copy = Join-Path ([IO.Path]::GetTempPath()) ('ri-floor-' + [guid]::NewGuid().ToString('N'))
        try {
            Copy-Item -LiteralPath $moduleFolder -Destination $copy -Recurse
            $check = Join-Path $copy 'RecurringIntegrations.Runtime.psm1'
            (Get-Content -LiteralPath $check -Raw) -replace "powerShellFloor = \[version\] '7.2'", "powerShellFloor = [version] '99.0'" |
                Set-Content -LiteralPath $check
            $output = & $powershell -NoProfile -Command "
                try { Import-Module '$(Join-Path $copy 'RecurringIntegrations.psd1')' -ErrorAction Stop; 'imported' }
                catch { `$_.FullyQualifiedErrorId; `$_.ErrorDetails.Message }
                @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -in 'RecurringIntegrations.Core', 'RecurringIntegrations.Loader' }).Count"
            $output[0] | Should -BeLike 'RuntimeNotSupported,*'
            $output[1] | Should -Be "RecurringIntegrations needs PowerShell 7.2 or later; this computer has PowerShell $($PSVersionTable.PSVersion)."
            $output[2] | Should -Be '0'
        }
        finally {
            Remove-Item -LiteralPath $copy -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}

Describe 'Shipped scripts in Windows PowerShell 5.1' {
    It 'finds each construct 5.1 lacks: <Snippet>' -ForEach @(
        @{ Snippet = '$a = $b ?? 1'; Finding = 'null-coalescing ??' }
        @{ Snippet = '$a ??= 1'; Finding = 'null-coalescing assignment ??=' }
        @{ Snippet = '$a = ${b}?.Length'; Finding = 'null-conditional member access ?.' }
        @{ Snippet = '$a = ${b}?[0]'; Finding = 'null-conditional index ?[]' }
        @{ Snippet = '$a = $b ? 1 : 2'; Finding = 'ternary operator ? :' }
        @{ Snippet = 'git status && git log'; Finding = 'pipeline chain && or ||' }
        @{ Snippet = 'git status || exit 1'; Finding = 'pipeline chain && or ||' }
        @{ Snippet = '1..4 | ForEach-Object -Parallel { $_ }'; Finding = 'ForEach-Object -Parallel is not in Windows PowerShell 5.1' }
        @{ Snippet = '1..4 | % -Parallel { $_ }'; Finding = 'ForEach-Object -Parallel is not in Windows PowerShell 5.1' }
        @{ Snippet = '$j = Get-Content a.json | ConvertFrom-Json -AsHashtable'; Finding = 'ConvertFrom-Json -AsHashtable is not in Windows PowerShell 5.1' }
        @{ Snippet = 'Join-Path $root src tests'; Finding = 'Join-Path -AdditionalChildPath is not in Windows PowerShell 5.1' }
        @{ Snippet = 'if ($IsWindows) { 1 }'; Finding = '$IsWindows without a test of $PSVersionTable.PSEdition first (undefined in 5.1)' }
        @{ Snippet = '$linux = $IsLinux'; Finding = '$IsLinux without a test of $PSVersionTable.PSEdition first (undefined in 5.1)' }
        @{ Snippet = 'function f { process { 1 } clean { 2 } }'; Finding = 'clean block' }
        @{ Snippet = '"snow `u{2603}"'; Finding = 'unicode escape `u{}' }
        @{ Snippet = 'Get-Error'; Finding = 'Get-Error is not in Windows PowerShell 5.1' }
        @{ Snippet = 'Invoke-RestMethod $uri -SkipCertificateCheck'; Finding = 'Invoke-RestMethod -SkipCertificateCheck is not in Windows PowerShell 5.1' }
        @{ Snippet = 'Set-Content a.txt -Value 1 -Encoding utf8NoBOM'; Finding = '-Encoding utf8NoBOM is not a Windows PowerShell 5.1 encoding' }
        @{ Snippet = 'Get-Process | Export-Csv a.csv'; Finding = 'Export-Csv without -NoTypeInformation and -Encoding (5.1 writes a #TYPE line and ASCII)' }
        @{ Snippet = 'Get-Process | Export-Csv a.csv -NoTypeInformation'; Finding = 'Export-Csv without -NoTypeInformation and -Encoding (5.1 writes a #TYPE line and ASCII)' }
        @{ Snippet = 'Export-Csv a.csv -UseQuotes AsNeeded -NoTypeInformation -Encoding UTF8'; Finding = 'Export-Csv -UseQuotes is not in Windows PowerShell 5.1' }
    ) {
        Find-WindowsPowerShellGap $Snippet | Should -Be "1: $Finding"
    }

    It 'accepts the 5.1 way of each' {
        $text = @'
$a = if ($null -ne $b) { $b } else { 1 }
$n = if ($b) { $b.Length }
git status; if ($LASTEXITCODE -eq 0) { git log }
1..4 | ForEach-Object { $_ } | Export-Csv a.csv -NoTypeInformation -Encoding UTF8
Join-Path (Join-Path $root 'src') 'tests'
$onWindows = $PSVersionTable.PSEdition -eq 'Desktop' -or $IsWindows
if ($PSVersionTable.PSEdition -eq 'Core') { if ($IsLinux) { 'linux' } }
"snow $([char] 0x2603) `$IsWindows"
'`u{2603}'
'@
        Find-WindowsPowerShellGap $text | Should -BeNullOrEmpty
    }

    It 'ships scripts (<_>) that Windows PowerShell 5.1 parses and runs' -ForEach @(
        'RecurringIntegrations.Runtime.psm1', 'Examples/Demo.ps1', 'Examples/Get-D365DailyStatusReport.ps1',
        'Examples/Invoke-D365FolderJob.ps1', 'Examples/Invoke-D365FolderRunbook.ps1', 'Emulator.psm1', 'build.ps1') {
        $name = $_
        $script = $shippedScripts | Where-Object { $_.FullName.Replace('\', '/').EndsWith($name) }
        $script | Should -Not -BeNullOrEmpty
        Find-WindowsPowerShellGap (Get-Content -LiteralPath $script.FullName -Raw) | Should -BeNullOrEmpty -Because $script.FullName
    }

    It 'shows only commands 5.1 runs, Export-Csv with -NoTypeInformation and -Encoding, in the examples of <_>' -ForEach @(
        'README.md', 'module/en-US/RecurringIntegrations.PowerShell.dll-Help.xml') {
        $text = Get-Content -LiteralPath (Join-Path $repositoryRoot $_) -Raw
        $blocks = if ($_ -like '*.md') { [regex]::Matches($text, '(?s)```powershell\r?\n(.*?)```') } else { [regex]::Matches($text, '(?s)<dev:code>(.*?)</dev:code>') }
        $blocks.Count | Should -BeGreaterThan 3
        foreach ($block in $blocks) {
            $code = [System.Net.WebUtility]::HtmlDecode($block.Groups[1].Value)
            Find-WindowsPowerShellGap $code | Where-Object { $_ -notlike '*does not parse*' } | Should -BeNullOrEmpty -Because $code
        }
    }

    It 'checks every shipped script (none is left out of the list above)' {
        $shippedScripts.Count | Should -Be 7 -Because ($shippedScripts.FullName -join ', ')
    }
}
