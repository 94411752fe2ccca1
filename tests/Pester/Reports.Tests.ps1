#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Report-ready rows: status and error rows name their file (after Send-D365Enqueue and after Import-Csv), the default
# views read well at 80 and 120 columns, and the daily report page renders in a real browser.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:examples = Join-Path $repositoryRoot 'module/Examples'
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-reports-' + [guid]::NewGuid().ToString('N'))
    $script:inFolder = Join-Path $work 'in'
    New-Item -ItemType Directory -Path $inFolder -Force | Out-Null

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200'
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $connect = $emulator.ConnectParameters
    Connect-D365 @connect -WarningAction SilentlyContinue | Out-Null

    # The error text of the issue, long enough to need three lines at 80 columns.
    $script:longError = "Field 'CustomerGroupId' must be filled in. Customer group TOO-LONG-NAME-FOR-FIELD is longer than " +
        'ten characters and cannot be saved in company USMF until the field length is changed.'
    'CUSTOMERGROUPID' + "`n" + 'WHOLESALE' | Set-Content (Join-Path $inFolder 'customer-groups-1.csv')
    'CUSTOMERGROUPID' + "`n" + 'RETAIL' | Set-Content (Join-Path $inFolder 'customer-groups-2.csv')
    'CUSTOMERGROUPID' + "`nEMULATOR-ERROR: $longError`nEMULATOR-ERROR: Field DESCRIPTION must be filled in" |
        Set-Content (Join-Path $inFolder 'customer-groups-bad.csv')
    $script:sent = @(Get-ChildItem $inFolder -File | Send-D365Enqueue -ActivityId $emulator.Ready.importActivity -EntityName 'Customer groups')
    $script:statuses = @($sent | Get-D365MessageStatus -Wait -TimeoutSeconds 60 -PollIntervalSeconds 1)
    $script:errors = @($statuses | Where-Object Status -ne 'Processed' | Get-D365ExecutionError)

    # Formats objects into lines as a console of that many columns shows them.
    function script:Format-Lines([object[]] $InputObject, [int] $Width, [string] $Culture = '') {
        $saved = [cultureinfo]::CurrentCulture
        [cultureinfo]::CurrentCulture = [cultureinfo]::new($Culture)
        try {
            @(($InputObject | Out-String -Width $Width) -split '\r?\n' | ForEach-Object TrimEnd)
        }
        finally {
            [cultureinfo]::CurrentCulture = $saved
        }
    }
}

AfterAll {
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Status and error rows name their file' {
    It 'after Send-D365Enqueue, each status carries file, path, job, enqueued time and, once final, the execution id' {
        $statuses.Count | Should -Be 3
        foreach ($message in $sent) {
            $status = $statuses | Where-Object MessageId -eq $message.MessageId
            $status.FileName | Should -Be $message.FileName
            $status.Path | Should -Be $message.Path
            $status.ActivityId | Should -Be $message.ActivityId
            $status.EnqueuedAt | Should -Be $message.EnqueuedAt
            $status.ExecutionId | Should -Not -BeNullOrEmpty
            $status.CheckedAt | Should -BeGreaterOrEqual $message.EnqueuedAt
        }
        @($statuses.ExecutionId | Select-Object -Unique).Count | Should -Be 3
        ($statuses | Where-Object FileName -eq 'customer-groups-bad.csv').Status | Should -Be 'ProcessedWithErrors'
    }

    It 'exports one report row per file: file, message id, status, enqueued and checked times, execution id' {
        $csv = Join-Path $work 'statuses.csv'
        $statuses | Export-Csv $csv -NoTypeInformation
        $rows = @(Import-Csv $csv)
        $rows.Count | Should -Be 3
        $columns = $rows[0].PSObject.Properties.Name
        $columns[0..7] | Should -Be @('FileName', 'MessageId', 'Status', 'IsTerminal', 'Succeeded', 'EnqueuedAt', 'CheckedAt', 'ExecutionId')
        $bad = $rows | Where-Object FileName -eq 'customer-groups-bad.csv'
        $bad.MessageId | Should -Be ([string] ($sent | Where-Object FileName -eq 'customer-groups-bad.csv').MessageId)
        $bad.ExecutionId | Should -Be ($statuses | Where-Object FileName -eq 'customer-groups-bad.csv').ExecutionId
        $bad.EnqueuedAt | Should -Not -BeNullOrEmpty
        $bad.CheckedAt | Should -Not -BeNullOrEmpty
    }

    It 'after Import-Csv of the sent messages, the status rows still name their files' {
        $csv = Join-Path $work 'sent.csv'
        $sent | Export-Csv $csv -NoTypeInformation
        $again = @(Import-Csv $csv | Get-D365MessageStatus -Wait -TimeoutSeconds 60 -PollIntervalSeconds 1)
        $again.Count | Should -Be 3
        foreach ($message in $sent) {
            $status = $again | Where-Object MessageId -eq $message.MessageId
            $status.FileName | Should -Be $message.FileName
            $status.Path | Should -Be $message.Path
            $status.ActivityId | Should -BeOfType [guid]
            $status.ActivityId | Should -Be $message.ActivityId
            # Export-Csv writes times to the second.
            [math]::Abs(($status.EnqueuedAt - $message.EnqueuedAt).TotalSeconds) | Should -BeLessThan 1
            $status.ExecutionId | Should -Be ($statuses | Where-Object MessageId -eq $message.MessageId).ExecutionId
        }
    }

    It 'reads back a status report whose file columns are empty (statuses asked for by bare id) without a binding error' {
        $csv = Join-Path $work 'bare.csv'
        Get-D365MessageStatus -MessageId $sent[0].MessageId | Export-Csv $csv -NoTypeInformation
        (Import-Csv $csv).FileName | Should -BeNullOrEmpty
        $again = @(Import-Csv $csv | Get-D365MessageStatus -ErrorVariable failures)
        $failures | Should -BeNullOrEmpty
        $again.Count | Should -Be 1
        $again[0].FileName | Should -BeNullOrEmpty
        $again[0].ActivityId | Should -BeNullOrEmpty
        $again[0].Status | Should -Be 'Processed'
    }

    It 'keeps the file names when unfinished statuses are piped back to Get-D365MessageStatus' {
        $again = @($statuses | Get-D365MessageStatus)
        $again.FileName | Should -Be $statuses.FileName
        $again.EnqueuedAt | Should -Be $statuses.EnqueuedAt
    }

    It 'names the file in each execution error, also after Import-Csv of the status rows' {
        $errors.Count | Should -Be 2
        $errors.FileName | Should -Be @('customer-groups-bad.csv', 'customer-groups-bad.csv')
        $csv = Join-Path $work 'statuses-for-errors.csv'
        $statuses | Export-Csv $csv -NoTypeInformation
        $fromCsv = @(Import-Csv $csv | Where-Object Status -ne 'Processed' | Get-D365ExecutionError)
        $fromCsv.FileName | Should -Be @('customer-groups-bad.csv', 'customer-groups-bad.csv')
        $fromCsv[0].PSObject.Properties.Name[0] | Should -Be 'FileName'
    }

    It 'refuses a file name given with several message ids, naming the problem and the fix' {
        $result = Get-D365MessageStatus -MessageId $sent[0].MessageId, $sent[1].MessageId -FileName 'a.csv' `
            -ErrorAction SilentlyContinue -ErrorVariable failures
        $result | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'StatusContextAmbiguous*'
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failures[0].ErrorDetails.RecommendedAction | Should -Match 'one -MessageId'
    }
}

Describe 'Default views at <Width> columns (culture "<Culture>")' -ForEach @(
    @{ Width = 80; Culture = '' }, @{ Width = 120; Culture = '' }, @{ Width = 80; Culture = 'en-US' }, @{ Width = 120; Culture = 'en-US' }
) {
    It 'shows each status by its file name, with status and time, and no line longer than the console' {
        $lines = Format-Lines $statuses $Width $Culture
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        $lines[1] | Should -Match '^Message\s+Status\s+CheckedAt$'
        @($lines | Where-Object { $_ -match '^customer-groups-bad\.csv\s+ProcessedWithErrors\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$' }).Count | Should -Be 1
        @($lines | Where-Object { $_ -match '^customer-groups-1\.csv\s+Processed\s' }).Count | Should -Be 1
        ($lines -join "`n") | Should -Not -Match ([string] $statuses[0].MessageId)
    }

    It 'shows a status asked for by bare id by its message id' {
        $lines = Format-Lines (Get-D365MessageStatus -MessageId $sent[0].MessageId) $Width $Culture
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        @($lines | Where-Object { $_ -match "^$($sent[0].MessageId)\s+Processed\s" }).Count | Should -Be 1
    }

    It 'gives the error text the line, in whole words, under one heading per file' {
        $lines = Format-Lines $errors $Width $Culture
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        @($lines | Where-Object { $_ -eq '   Errors of: customer-groups-bad.csv' }).Count | Should -Be 1
        # Every word of the messages stands whole on some line, in order, and the text lines are long (the old view gave 25).
        $rule = [array]::IndexOf($lines, ($lines | Where-Object { $_ -match '^-----' } | Select-Object -First 1))
        $words = @($lines | Select-Object -Skip ($rule + 1) | ForEach-Object { $_.Substring([math]::Min(6, $_.Length)) -split '\s+' } | Where-Object { $_ })
        $expected = @(($longError + ' Field DESCRIPTION must be filled in') -split ' ')
        $words | Should -Be $expected
        ($lines | Measure-Object Length -Maximum).Maximum | Should -BeGreaterThan 70
        ($lines -join "`n") | Should -Not -Match ([string] $errors[0].MessageId)
    }

    It 'fits enqueued messages, dequeued messages and the session, leading with file names and the environment' {
        $sentLines = Format-Lines $sent $Width $Culture
        $sentLines[1] | Should -Match '^FileName\s+Length\s+EnqueuedAt$'
        @($sentLines | Where-Object { $_ -match '^customer-groups-bad\.csv\s+\d+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$' }).Count | Should -Be 1
        # The output types live in the module's own load context, which PowerShell's type names do not reach: take it from the command,
        # and name it as the cmdlets do.
        $dequeued = [psobject](Get-Command Receive-D365Dequeue).OutputType[0].Type::new()
        $dequeued.PSObject.TypeNames.Insert(0, 'RecurringIntegrations.DequeuedMessage')
        $dequeued.CorrelationId = [guid]::NewGuid(); $dequeued.FileName = "$([guid]::NewGuid()).xml"; $dequeued.Length = 123456; $dequeued.Acknowledged = $true
        $dequeuedLines = Format-Lines $dequeued $Width $Culture
        @($dequeuedLines | Where-Object { $_ -match "^$([regex]::Escape($dequeued.FileName))\s+123456\s+True$" }).Count | Should -Be 1
        $sessionLines = Format-Lines (Get-D365Session) $Width $Culture
        @($sessionLines | Where-Object { $_ -match "^$([regex]::Escape($emulator.Ready.environment))\s+ClientSecret\s+\d{4}-" }).Count | Should -Be 1
        foreach ($line in $sentLines + $dequeuedLines + $sessionLines) { $line.Length | Should -BeLessOrEqual $Width }
    }
}

Describe 'Format-List *' {
    It 'shows every property of a status and of an error' {
        $text = $statuses[0] | Format-List * | Out-String -Width 200
        foreach ($name in $statuses[0].PSObject.Properties.Name) { $text | Should -Match "(?m)^$name\s+:" }
        $text | Should -Match ([string] $statuses[0].MessageId)
        $text = $errors[0] | Format-List * | Out-String -Width 200
        foreach ($name in $errors[0].PSObject.Properties.Name) { $text | Should -Match "(?m)^$name\s+:" }
    }
}

Describe 'Get-D365DailyStatusReport.ps1' {
    BeforeAll {
        # A journal as Invoke-D365InboxImport.ps1 writes it: the three files of this run, and one message of a service
        # that is gone (its status cannot be read: Unknown, with a warning).
        $script:day = (Get-Date).ToString('yyyy-MM-dd', [cultureinfo]::InvariantCulture)
        $journal = Join-Path $work 'journal.csv'
        $now = (Get-Date).ToString('yyyy-MM-dd HH:mm:ss', [cultureinfo]::InvariantCulture)
        @($sent | ForEach-Object { [pscustomobject]@{ Date = $now; File = $_.FileName; MessageId = $_.MessageId; Status = 'Enqueued' } }) +
        [pscustomobject]@{ Date = $now; File = 'lost.csv'; MessageId = [guid]::NewGuid(); Status = 'Enqueued' } |
            Export-Csv $journal -NoTypeInformation
        $script:reports = Join-Path $work 'reports'
        $ready = $emulator.Ready
        $credential = [pscredential]::new($ready.clientId, (ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force))
        $script:files = & (Join-Path $examples 'Get-D365DailyStatusReport.ps1') -Environment $ready.environment -TenantId $ready.tenantId `
            -AuthorityHost $ready.authorityHost -Credential $credential -SkipCertificateCheck -JournalPath $journal -OutputFolder $reports `
            -WarningVariable reportWarnings -WarningAction SilentlyContinue
        $script:reportWarnings = $reportWarnings
        $script:page = Join-Path $reports "status-$day.html"
    }

    It 'writes one CSV row per message with its status, execution id and number of errors' {
        $files.Name | Should -Be @("status-$day.csv", "status-$day.html")
        $rows = @(Import-Csv (Join-Path $reports "status-$day.csv"))
        $rows.Count | Should -Be 4
        ($rows | Where-Object File -eq 'customer-groups-bad.csv').Status | Should -Be 'ProcessedWithErrors'
        ($rows | Where-Object File -eq 'customer-groups-bad.csv').Errors | Should -Be 2
        ($rows | Where-Object File -eq 'customer-groups-bad.csv').ExecutionId | Should -Not -BeNullOrEmpty
        @($rows | Where-Object Status -eq 'Processed').Count | Should -Be 2
        ($rows | Where-Object File -eq 'lost.csv').Status | Should -Be 'Unknown'
        @($reportWarnings).Count | Should -Be 1
    }

    It 'writes a self-contained page: counts with an SVG bar chart, failures first, each failure with its errors' {
        $html = Get-Content $page -Raw
        $html | Should -Not -Match '<link|<script|<img|<iframe|@import|url\(|src=|href='
        $html | Should -Match '<svg'
        @([regex]::Matches($html, '<rect ')).Count | Should -Be 3
        $html | Should -Match "<td><span class='dot'[^>]*></span>Processed</td><td class='number'>2</td>"
        $html | Should -Match "<td><span class='dot'[^>]*></span>ProcessedWithErrors</td><td class='number'>1</td>"
        $html | Should -Match "<td><span class='dot'[^>]*></span>Unknown</td><td class='number'>1</td>"
        $files = [regex]::Matches($html, "<tr class='\w+'><td>([^<]+)</td>") | ForEach-Object { $_.Groups[1].Value }
        $files | Should -Be @('customer-groups-bad.csv', 'lost.csv', 'customer-groups-1.csv', 'customer-groups-2.csv')
        $html | Should -Match ([regex]::Escape([System.Net.WebUtility]::HtmlEncode($longError)))
        $html | Should -Match '<li>Field DESCRIPTION must be filled in</li>'
    }

    Context 'in headless Chromium' {
        BeforeAll {
            $script:chromium = '/usr/bin/chromium'
            $script:skipReason = $null
            if (-not (Test-Path $chromium)) {
                # CI runs as root on a fresh Debian machine; elsewhere sudo may do it without a password.
                $asRoot = (id -u) -eq '0'
                $log = Join-Path $work 'apt.log'
                if ((Get-Command apt-get -ErrorAction SilentlyContinue) -and ($asRoot -or (Get-Command sudo -ErrorAction SilentlyContinue))) {
                    $env:DEBIAN_FRONTEND = 'noninteractive'
                    foreach ($arguments in @('update'), @('install', '-y', '--no-install-recommends', 'chromium')) {
                        if ($asRoot) { & apt-get @arguments *>> $log } else { & sudo -n apt-get @arguments *>> $log }
                    }
                }
                if (-not (Test-Path $chromium)) {
                    $tail = if (Test-Path $log) { (Get-Content $log -Tail 3) -join ' ' } else { 'there is no apt-get here' }
                    $script:skipReason = "Chromium is not installed and could not be installed with apt-get: $tail"
                }
            }

            # Runs Chromium headless on a fresh profile with everything that could reach the network switched off.
            function script:Invoke-Chromium([string[]] $Arguments) {
                $userData = Join-Path $work ('chromium-' + [guid]::NewGuid().ToString('N'))
                $start = [Diagnostics.ProcessStartInfo]::new($chromium)
                foreach ($argument in @('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                        '--disable-background-networking', '--disable-component-update', '--disable-sync', "--user-data-dir=$userData") + $Arguments) {
                    $start.ArgumentList.Add($argument)
                }
                $start.RedirectStandardOutput = $true
                $start.RedirectStandardError = $true
                $process = [Diagnostics.Process]::Start($start)
                $stderr = $process.StandardError.ReadToEndAsync()
                $stdout = $process.StandardOutput.ReadToEndAsync()
                if (-not $process.WaitForExit(120000)) { $process.Kill($true); throw 'Chromium did not finish within 120 s.' }
                [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout.Result; Error = $stderr.Result }
            }

            Add-Type -TypeDefinition @'
using System;
using System.IO;
using System.IO.Compression;

// Just enough of PNG to read a browser screenshot: 8-bit RGB or RGBA, not interlaced.
public static class PngPixels
{
    public static byte[] Decode(byte[] png, out int width, out int height, out int channels)
    {
        width = height = channels = 0;
        var data = new MemoryStream();
        for (var at = 8; at < png.Length;)
        {
            var length = (png[at] << 24) | (png[at + 1] << 16) | (png[at + 2] << 8) | png[at + 3];
            var type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            if (type == "IHDR")
            {
                width = (png[at + 8] << 24) | (png[at + 9] << 16) | (png[at + 10] << 8) | png[at + 11];
                height = (png[at + 12] << 24) | (png[at + 13] << 16) | (png[at + 14] << 8) | png[at + 15];
                if (png[at + 16] != 8 || png[at + 20] != 0) throw new NotSupportedException("not an 8-bit, non-interlaced PNG");
                channels = png[at + 17] == 6 ? 4 : png[at + 17] == 2 ? 3 : throw new NotSupportedException("colour type " + png[at + 17]);
            }
            else if (type == "IDAT") data.Write(png, at + 8, length);
            at += 12 + length;
        }
        data.Position = 0;
        var raw = new MemoryStream();
        using (var zlib = new ZLibStream(data, CompressionMode.Decompress)) zlib.CopyTo(raw);
        var bytes = raw.ToArray();
        var stride = width * channels;
        var pixels = new byte[stride * height];
        for (var y = 0; y < height; y++)
        {
            var filter = bytes[y * (stride + 1)];
            for (var x = 0; x < stride; x++)
            {
                int a = x >= channels ? pixels[y * stride + x - channels] : 0;
                int b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
                int c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
                int value = bytes[y * (stride + 1) + 1 + x];
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                value += filter switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, 4 => pa <= pb && pa <= pc ? a : pb <= pc ? b : c, _ => throw new NotSupportedException("filter " + filter) };
                pixels[y * stride + x] = (byte)value;
            }
        }
        return pixels;
    }

    /// <summary>How many pixels are within tolerance of the colour.</summary>
    public static int Count(byte[] pixels, int channels, int r, int g, int b, int tolerance)
    {
        var count = 0;
        for (var i = 0; i < pixels.Length; i += channels)
            if (Math.Abs(pixels[i] - r) <= tolerance && Math.Abs(pixels[i + 1] - g) <= tolerance && Math.Abs(pixels[i + 2] - b) <= tolerance) count++;
        return count;
    }
}
'@
        }

        It 'renders a screenshot that is not blank, with the chart''s bars, and a page that has the counts' {
            if ($skipReason) { Set-ItResult -Skipped -Because $skipReason; return }
            # The constructor, not a cast: PowerShell casts a rooted Unix path to a relative Uri.
            $uri = [uri]::new((Resolve-Path $page).Path).AbsoluteUri
            $png = Join-Path $work 'report.png'
            $shot = Invoke-Chromium @('--window-size=1000,900', '--hide-scrollbars', "--screenshot=$png", $uri)
            Test-Path $png | Should -BeTrue -Because "Chromium said: $($shot.Error)"

            $width = $height = $channels = 0
            $pixels = [PngPixels]::Decode([IO.File]::ReadAllBytes($png), [ref] $width, [ref] $height, [ref] $channels)
            $width | Should -Be 1000
            $total = $width * $height
            $white = [PngPixels]::Count($pixels, $channels, 255, 255, 255, 8)
            $white | Should -BeLessThan ($total * 0.99) -Because 'a blank page is all white'
            $white | Should -BeGreaterThan ($total * 0.3) -Because 'the page has a white background'
            # The bars: Processed green (#2e7d32), failed red (#c62828), unknown grey (#757575), each at least 20 px high.
            [PngPixels]::Count($pixels, $channels, 0x2e, 0x7d, 0x32, 12) | Should -BeGreaterThan 2000
            [PngPixels]::Count($pixels, $channels, 0xc6, 0x28, 0x28, 12) | Should -BeGreaterThan 1000
            [PngPixels]::Count($pixels, $channels, 0x75, 0x75, 0x75, 6) | Should -BeGreaterThan 1000

            $dom = (Invoke-Chromium @('--dump-dom', $uri)).Output
            $dom | Should -Match "D365 imports of $day"
            $dom | Should -Match '<text x="\d+" y="\d+" class="count">2</text>'
            $dom | Should -Match 'Processed</td><td class="number">2</td>'
            $dom | Should -Match 'ProcessedWithErrors</td><td class="number">1</td>'
            $dom | Should -Match 'Unknown</td><td class="number">1</td>'
        }
    }
}
