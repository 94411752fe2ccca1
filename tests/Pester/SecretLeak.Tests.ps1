#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Neither the client secret nor a token may appear anywhere a user can see or save: every stream of every cmdlet
# (successes and failures, with -Verbose and -Debug), every output object formatted and exported, and $Error.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-secret-' + [guid]::NewGuid().ToString('N'))
    $exportFolder = Join-Path $work 'exports'
    New-Item -ItemType Directory -Path $exportFolder -Force | Out-Null
    '<Export><Row>1</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export1.xml')
    $script:secret = 'Known-Secret-' + [guid]::NewGuid().ToString('N')

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200', '--export-folder', $exportFolder, '--client-secret', $secret
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $script:ready = $emulator.Ready

    # A token as the emulator issues them, asked for directly: the module's own token never reaches the test.
    $tokenRequest = @{
        Method = 'Post'
        Uri    = "$($ready.authorityHost)/$($ready.tenantId)/oauth2/v2.0/token"
        Body   = @{ grant_type = 'client_credentials'; client_id = $ready.clientId; client_secret = $secret; scope = "$($ready.environment)/.default" }
    }
    if ($PSVersionTable.PSVersion.Major -ge 6) { $tokenRequest.SkipCertificateCheck = $true }
    else { [Net.ServicePointManager]::ServerCertificateValidationCallback = { $true } }
    $script:token = (Invoke-RestMethod @tokenRequest).access_token
}

AfterAll {
    Disconnect-D365 -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Secrets and tokens' {
    It 'never shows the secret or a token in any stream, object, format, CSV or $Error' {
        $token | Should -Match '^eyJ'
        $Error.Clear()
        # The debug stream through the preference: -Debug on a compiled cmdlet means Inquire (a prompt per line), which a
        # test host cannot answer; the lines written are the same.
        $DebugPreference = 'Continue'
        # Failures are part of the test: each error record, terminating or not, joins the captured output.
        $ErrorActionPreference = 'Continue'
        function Invoke-Failing([scriptblock] $Call) { try { & $Call } catch { $_ } }
        $loud = @{ Verbose = $true }
        $connect = @{
            Environment = $ready.environment; AuthorityHost = $ready.authorityHost; TenantId = $ready.tenantId
            SkipCertificateCheck = $true
        }
        $secure = ConvertTo-SecureString $secret -AsPlainText -Force
        $inFile = Join-Path $work 'in.csv'
        'CUSTOMERGROUPID' + "`n" + 'EMULATOR-ERROR: a row with an error' | Set-Content $inFile
        $records = & {
            Invoke-Failing { Connect-D365 @connect @loud -ClientId $ready.clientId -ClientSecret (ConvertTo-SecureString 'wrong-secret' -AsPlainText -Force) }
            Invoke-Failing { Connect-D365 @connect @loud -ClientId ([guid]::NewGuid()) -ClientSecret $secure }
            Connect-D365 @connect @loud -Credential ([pscredential]::new($ready.clientId, $secure))
            Connect-D365 -Environment $ready.environment -AccessToken (ConvertTo-SecureString $token -AsPlainText -Force) -SkipCertificateCheck @loud
            Connect-D365 @connect @loud -ClientId $ready.clientId -ClientSecret $secure
            Get-D365Session
            $sent = Send-D365Enqueue -Path $inFile -ActivityId $ready.importActivity -EntityName 'Customer groups' @loud
            $sent
            Invoke-Failing { Send-D365Enqueue -Path $inFile -ActivityId ([guid]::NewGuid()) @loud }
            $sent | Get-D365MessageStatus -Wait -PollIntervalSeconds 1 -TimeoutSeconds 60 @loud
            Invoke-Failing { Get-D365MessageStatus -MessageId ([guid]::NewGuid()) @loud }
            $sent | Get-D365ExecutionError @loud
            Invoke-Failing { Get-D365ExecutionError -ExecutionId 'no-such-execution' @loud }
            Receive-D365Dequeue -ActivityId $ready.exportActivity -OutputPath (Join-Path $work 'out') @loud | Confirm-D365Ack -PassThru @loud
            Invoke-Failing { Confirm-D365Ack -ActivityId $ready.exportActivity -CorrelationId ([guid]::NewGuid()) -PopReceipt 'AAAA' @loud }
            Invoke-Failing { Receive-D365Dequeue -ActivityId ([guid]::NewGuid()) -OutputPath (Join-Path $work 'out') @loud }
            Disconnect-D365 @loud
        } *>&1

        $kinds = @($records | ForEach-Object { $_.GetType().Name } | Sort-Object -Unique)
        $kinds | Should -Contain 'VerboseRecord'
        $kinds | Should -Contain 'ErrorRecord'
        $kinds | Should -Contain 'WarningRecord'
        $csv = Join-Path $work 'object.csv'
        $text = foreach ($record in $records) {
            $record | Out-String -Width 4096
            $record | Format-Table * -Force | Out-String -Width 4096
            $record | Format-List * -Force | Out-String -Width 4096
            if ($record -is [System.Management.Automation.ErrorRecord]) {
                $record.Exception.ToString()
                $record.ErrorDetails | Out-String
            }
            else {
                $record | Export-Csv -Path $csv -NoTypeInformation
                Get-Content $csv -Raw
            }
        }
        $text += $Error | Format-List * -Force | Out-String -Width 4096
        $text += $Error | ForEach-Object { $_.Exception.ToString() }
        $all = $text -join "`n"

        # The captured text holds what it should: results, and the failures' own messages.
        $all | Should -Match 'ProcessedWithErrors'
        $all | Should -Match 'AADSTS7000215'
        $all | Should -Not -Match ([regex]::Escape($secret))
        $all | Should -Not -Match ([regex]::Escape($token))
        # Any JWT (header.payload), not only the one asked for above.
        $all | Should -Not -Match 'eyJ[A-Za-z0-9_-]{10,}\.eyJ'
        $all | Should -Not -Match 'Bearer [A-Za-z0-9]'
    }
}
