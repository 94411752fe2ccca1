#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Connect-D365 behind an authenticating proxy that is the only route to the environment and to the storage host: their
# names (d365.proxied.test, storage.proxied.test) resolve nowhere, and the emulator's proxy (--proxy-credential) sends
# every tunnel to the emulator.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-proxy-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work -Force | Out-Null
    $script:proxyPassword = 'Pr0xy-S3cret-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '300', '--proxy-credential', "proxyuser:$proxyPassword",
        '--blob-host', 'storage.proxied.test'
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $script:proxy = $emulator.Ready.proxy
    $script:proxyCredential = [pscredential]::new('proxyuser', (ConvertTo-SecureString $proxyPassword -AsPlainText -Force))
    $script:connect = @{
        Environment          = 'https://d365.proxied.test'
        AuthorityHost        = 'https://d365.proxied.test'
        TenantId             = $emulator.Ready.tenantId
        ClientId             = $emulator.Ready.clientId
        ClientSecret         = ConvertTo-SecureString $emulator.Ready.clientSecret -AsPlainText -Force
        SkipCertificateCheck = $true
        WarningAction        = 'SilentlyContinue'
    }
    # The test's own proxy variables only: whatever the machine has set would change the route.
    $script:savedVariables = @{}
    foreach ($name in 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy') {
        $savedVariables[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $null)
    }

    function Get-Failure([scriptblock] $Script) {
        try { & $Script; $null } catch { $_ }
    }
}

AfterAll {
    Disconnect-D365 -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    foreach ($name in $savedVariables.Keys) { [Environment]::SetEnvironmentVariable($name, $savedVariables[$name]) }
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Connect-D365 behind an authenticating proxy' {
    It 'cannot reach the environment without the proxy: its name resolves nowhere' {
        $failure = Get-Failure { Connect-D365 @connect -ErrorAction Stop }
        $failure.FullyQualifiedErrorId | Should -BeLike 'TokenEndpointUnreachable,*'
    }

    It 'signs in, enqueues and uploads a package to storage through the proxy with -ProxyCredential, and shows no credential' {
        $session = Connect-D365 @connect -Proxy $proxy -ProxyCredential $proxyCredential -Verbose 4>&1 -ErrorAction Stop
        $verbose = @($session | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })
        $session = $session | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $session.Proxy | Should -Be $proxy
        $session.Environment | Should -Be 'https://d365.proxied.test'
        $verbose.Message -join "`n" | Should -Match ([regex]::Escape("proxy: $proxy"))

        $file = Join-Path $work 'groups.csv'
        Set-Content -LiteralPath $file -Value "CUSTGROUP`r`n10" -Encoding Unicode
        $lines = @(Send-D365Enqueue -Path $file -ActivityId $emulator.Ready.importActivity -EntityName 'Customer groups' -Verbose 4>&1)
        $sent = $lines | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $sent.MessageId | Should -Not -BeNullOrEmpty
        $verbose += $lines | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }

        $lines = @(New-D365DataPackage -Path $file -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath (Join-Path $work 'groups.zip') |
            Import-D365DataPackage -DefinitionGroupId 'Emulator package project' -LegalEntityId usmf -Wait -PollIntervalSeconds 1 -WarningAction SilentlyContinue -Verbose 4>&1)
        $run = $lines | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $run.Status | Should -Be 'Succeeded'
        $verbose += $lines | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }

        # The storage calls really went to the storage host, which only the proxy reaches.
        $requests = Invoke-RestMethod "$($emulator.Ready.environment)/emulator/messages" -SkipCertificateCheck
        $stats = Invoke-RestMethod "$($emulator.Ready.environment)/emulator/stats" -SkipCertificateCheck
        ($verbose.Message -join "`n") | Should -Match 'PUT .*groups'
        $shown = ($verbose.Message -join "`n") + ($session | Format-List * | Out-String) + ($requests | ConvertTo-Json -Depth 5) + ($stats | ConvertTo-Json -Depth 5)
        $shown | Should -Not -Match ([regex]::Escape($proxyPassword))
    }

    It 'fails with the proxy''s error, naming the proxy and what to do, without credentials' {
        $failure = Get-Failure { Connect-D365 @connect -Proxy $proxy -ErrorAction Stop }
        $failure.FullyQualifiedErrorId | Should -BeLike 'ProxyAuthenticationRequired,*'
        $failure.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $failure.Exception.Message | Should -Match ([regex]::Escape($proxy))
        $failure.Exception.Message | Should -Match 'd365\.proxied\.test'
        $failure.ErrorDetails.RecommendedAction | Should -Match '-ProxyCredential'
    }

    It 'fails with the proxy''s error for a wrong password and never shows it' {
        $wrong = [pscredential]::new('proxyuser', (ConvertTo-SecureString 'Wr0ng-Pass' -AsPlainText -Force))
        $failure = Get-Failure { Connect-D365 @connect -Proxy $proxy -ProxyCredential $wrong -ErrorAction Stop }
        $failure.FullyQualifiedErrorId | Should -BeLike 'ProxyAuthenticationRequired,*'
        ($failure | Format-List * -Force | Out-String) + $failure.Exception.ToString() | Should -Not -Match 'Wr0ng-Pass'
    }

    It 'takes the proxy and its credentials from HTTPS_PROXY, as in Windows PowerShell 5.1, and shows no credential' {
        $address = [uri] $proxy
        $env:HTTPS_PROXY = "http://proxyuser:$([uri]::EscapeDataString($proxyPassword))@$($address.Authority)"
        try {
            $session = Connect-D365 @connect -ErrorAction Stop
            $session.Proxy | Should -Be "$proxy (from HTTPS_PROXY)"
            ($session | Format-List * | Out-String) | Should -Not -Match ([regex]::Escape($proxyPassword))
            Receive-D365Dequeue -ActivityId $emulator.Ready.exportActivity -OutputPath (Join-Path $work 'out') | Should -BeNullOrEmpty
        }
        finally {
            $env:HTTPS_PROXY = $null
        }
    }

    It 'refuses -ProxyCredential with -ProxyUseDefaultCredentials, and a password in -Proxy without showing it' {
        (Get-Failure { Connect-D365 @connect -Proxy $proxy -ProxyCredential $proxyCredential -ProxyUseDefaultCredentials -ErrorAction Stop }).FullyQualifiedErrorId |
            Should -BeLike 'ProxyCredentialConflict,*'
        $failure = Get-Failure { Connect-D365 @connect -Proxy "http://proxyuser:Hidden-Pass@127.0.0.1:9" -ErrorAction Stop }
        $failure.FullyQualifiedErrorId | Should -BeLike 'ProxyInvalid,*'
        $failure.Exception.Message | Should -Not -Match 'Hidden-Pass'
    }
}
