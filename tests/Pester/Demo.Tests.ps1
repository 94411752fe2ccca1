#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The README's first command, './build.ps1 -Task Demo', in a fresh PowerShell of the same kind as this one.

BeforeAll {
    $script:repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:reportFolder = Join-Path $repositoryRoot 'out/demo'
    # pwsh or powershell.exe, whichever runs this suite.
    $script:powershell = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
}

Describe 'build.ps1 -Task Demo' {
    It 'runs green against the emulator, writes the CSV and HTML report, and leaves nothing behind' {
        Remove-Item $reportFolder -Recurse -Force -ErrorAction SilentlyContinue
        # A temporary folder of its own (TMPDIR on Linux and macOS, TEMP on Windows), to see that the demo empties it.
        $temp = Join-Path ([IO.Path]::GetTempPath()) ('ri-demo-test-' + [guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory -Path $temp | Out-Null
        $saved = $env:TMPDIR, $env:TEMP, $env:TMP
        $env:TMPDIR = $temp; $env:TEMP = $temp; $env:TMP = $temp
        try {
            $output = & $powershell -NoProfile -NonInteractive -File (Join-Path $repositoryRoot 'build.ps1') -Task Demo 2>&1
        }
        finally {
            $env:TMPDIR, $env:TEMP, $env:TMP = $saved
        }
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")

        # The first screen tells the story: one line for the build, then the demo itself.
        $lines = @($output | ForEach-Object { "$_" } | Where-Object { $_.Trim() })
        $lines[0] | Should -BeLike 'Built *'
        ($output -join "`n") | Should -Not -Match 'Restor(e|ing) |Build succeeded|Time Elapsed|warning (CS|NU|MSB)'
        ($lines[1..12] -join "`n") | Should -Match 'customer-groups-1\.csv'

        # The status rows are the report as they are: one per file, no join.
        $rows = @(Import-Csv (Join-Path $reportFolder 'import-report.csv'))
        $rows.Count | Should -Be 3
        $bad = $rows | Where-Object FileName -eq 'customer-groups-bad.csv'
        $bad.Status | Should -Be 'ProcessedWithErrors'
        $bad.ExecutionId | Should -Not -BeNullOrEmpty
        $bad.EnqueuedAt | Should -Not -BeNullOrEmpty
        @($rows | Where-Object Status -eq 'Processed').Count | Should -Be 2
        $errorRows = @(Import-Csv (Join-Path $reportFolder 'import-errors.csv'))
        $errorRows.Count | Should -Be 2
        $errorRows.FileName | Should -Be @('customer-groups-bad.csv', 'customer-groups-bad.csv')
        $html = Get-Content (Join-Path $reportFolder 'import-report.html') -Raw
        $html | Should -Match '<td>Processed</td><td>2</td>'
        $html | Should -Match '2 file\(s\) saved and acknowledged'

        # The sample files and the emulator's work folder are gone (the emulator is stopped before its folder goes);
        # dotnet build leaves files of its own there, which are not the demo's.
        @(Get-ChildItem $temp -Directory -Filter 'ri-demo-*') | Should -BeNullOrEmpty
        @(Get-ChildItem $temp -Directory -Filter 'd365-emulator-*') | Should -BeNullOrEmpty
        Remove-Item $temp -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'runs the same round against an on-premises environment with -OnPremises: the URL with its path, AD FS sign-in' {
        Remove-Item $reportFolder -Recurse -Force -ErrorAction SilentlyContinue
        $output = & $powershell -NoProfile -NonInteractive -File (Join-Path $repositoryRoot 'build.ps1') -Task Demo -OnPremises 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")

        # Connect-D365's row shows the environment with its path; every call under it answered (a call without it is redirected).
        ($output -join "`n") | Should -Match 'https://127\.0\.0\.1:\d+/namespaces/AXSF\s'
        $rows = @(Import-Csv (Join-Path $reportFolder 'import-report.csv'))
        $rows.Count | Should -Be 3
        @($rows | Where-Object Status -eq 'Processed').Count | Should -Be 2
        ($rows | Where-Object FileName -eq 'customer-groups-bad.csv').Status | Should -Be 'ProcessedWithErrors'
        @(Import-Csv (Join-Path $reportFolder 'import-errors.csv')).Count | Should -Be 2
        Get-Content (Join-Path $reportFolder 'import-report.html') -Raw | Should -Match '2 file\(s\) saved and acknowledged'
    }
}
