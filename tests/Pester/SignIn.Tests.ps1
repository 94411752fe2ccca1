#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The ways in beyond a secret: a token provider, a client assertion from a file or a script, device code, AD FS, and an
# on-premises environment (its URL with a path, AD FS). Each signs in against the standalone emulator and runs enqueue,
# status, dequeue and ack.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-signin-' + [guid]::NewGuid().ToString('N'))
    $exports = Join-Path $work 'exports'
    New-Item -ItemType Directory -Path $exports -Force | Out-Null
    1..8 | ForEach-Object { "<Export><Row>$_</Row></Export>" | Set-Content -Path (Join-Path $exports "export$_.xml") }

    # The app's certificate: the emulator trusts its public part, the tests sign client assertions with its key.
    $rsa = [Security.Cryptography.RSA]::Create(2048)
    $request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=RecurringIntegrations Pester client', $rsa,
        [Security.Cryptography.HashAlgorithmName]::SHA256, [Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $script:certificate = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddMinutes(-5), [DateTimeOffset]::UtcNow.AddDays(1))
    $publicPart = Join-Path $work 'client.cer'
    [IO.File]::WriteAllBytes($publicPart, $certificate.Export([Security.Cryptography.X509Certificates.X509ContentType]::Cert))

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    # Tokens of 12 seconds expire during a test; a device code is approved 1.5 s after it is handed out.
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200', '--export-folder', $exports,
        '--client-certificate', $publicPart, '--token-lifetime-seconds', '12', '--device-code-approval-ms', '1500'
    $script:ready = $emulator.Ready
    $script:manifest = Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1'
    Import-Module $manifest -Force

    function New-ClientAssertion([string] $Audience) {
        $encode = { param($text) [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($text)).TrimEnd('=').Replace('+', '-').Replace('/', '_') }
        $now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
        $header = & $encode (@{ alg = 'RS256'; typ = 'JWT' } | ConvertTo-Json -Compress)
        $claims = & $encode (@{ aud = $Audience; iss = $ready.clientId; sub = $ready.clientId; jti = [guid]::NewGuid().ToString(); nbf = $now; exp = $now + 600 } | ConvertTo-Json -Compress)
        $signature = $rsa.SignData([Text.Encoding]::ASCII.GetBytes("$header.$claims"), [Security.Cryptography.HashAlgorithmName]::SHA256,
            [Security.Cryptography.RSASignaturePadding]::Pkcs1)
        "$header.$claims." + [Convert]::ToBase64String($signature).TrimEnd('=').Replace('+', '-').Replace('/', '_')
    }

    # What Get-AzAccessToken does: a client-credential token from the token endpoint, here the emulator's.
    function Get-EmulatorToken {
        (Invoke-RestMethod -Method Post -Uri "$($ready.authorityHost)/$($ready.tenantId)/oauth2/v2.0/token" -SkipCertificateCheck -Body @{
            grant_type = 'client_credentials'; client_id = $ready.clientId; client_secret = $ready.clientSecret; scope = "$($ready.environment)/.default"
        }).access_token
    }

    # Enqueue, wait for the status, dequeue one export and acknowledge it; every error fails the test.
    function Invoke-RoundTrip([string] $Name, [int] $ThrottleLimit = 1, [scriptblock] $BetweenSteps = {}) {
        $folder = Join-Path $work $Name
        New-Item -ItemType Directory -Path "$folder/in" -Force | Out-Null
        1..$ThrottleLimit | ForEach-Object { '<Document/>' | Set-Content -Path "$folder/in/$Name-$_.xml" }
        $sent = Get-ChildItem "$folder/in/*.xml" | Send-D365Enqueue -ActivityId $ready.importActivity -EntityName 'Customer groups' -ThrottleLimit $ThrottleLimit -ErrorAction Stop
        & $BetweenSteps
        $statuses = $sent | Get-D365MessageStatus -Wait -TimeoutSeconds 60 -PollIntervalSeconds 1 -ErrorAction Stop
        & $BetweenSteps
        $received = Receive-D365Dequeue -ActivityId $ready.exportActivity -OutputPath "$folder/out" -MaxCount 1 -ErrorAction Stop
        $received | Confirm-D365Ack -ErrorAction Stop
        [pscustomobject]@{ Statuses = @($statuses.Status); Received = @($received).Count; Saved = @(Get-ChildItem "$folder/out" -File).Count }
    }
}

AfterAll {
    Disconnect-D365 -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    if ($script:work) { Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Connect-D365 -TokenProvider' {
    It 'asks the provider again once its token nears expiry, once for all parallel workers, and no 401 reaches the user' {
        $counter = @{ Calls = 0 }
        $session = Connect-D365 -Environment $ready.environment -SkipCertificateCheck -WarningAction SilentlyContinue -TokenProvider {
            $counter.Calls++
            Get-EmulatorToken
        }
        $session.AuthenticationKind | Should -Be 'TokenProvider'
        $counter.Calls | Should -Be 1

        # 12-second tokens are renewed from half their life: each pause outlives the token in hand.
        $result = Invoke-RoundTrip 'provider' -ThrottleLimit 4 -BetweenSteps { Start-Sleep -Seconds 7 } -ErrorVariable failures
        $failures | Should -BeNullOrEmpty
        $result.Statuses | Should -Be 'Processed', 'Processed', 'Processed', 'Processed'
        $result.Saved | Should -Be 1
        $counter.Calls | Should -Be 3 -Because 'one call after each pause, shared by the four workers'
    }

    It 'takes an object with Token (a SecureString, as Az.Accounts 5 gives) and ExpiresOn' {
        $session = Connect-D365 -Environment $ready.environment -SkipCertificateCheck -WarningAction SilentlyContinue -TokenProvider {
            [pscustomobject]@{ Token = ConvertTo-SecureString (Get-EmulatorToken) -AsPlainText -Force; ExpiresOn = [DateTimeOffset]::Now.AddSeconds(11) }
        }
        $session.TokenExpiresOn | Should -BeGreaterThan ([DateTimeOffset]::Now)
        (Invoke-RoundTrip 'provider-object').Statuses | Should -Be 'Processed'
    }

    It 'fails with TokenProviderFailed when the script throws, and TokenProviderNoToken when it returns nothing' {
        { Connect-D365 -Environment $ready.environment -SkipCertificateCheck -WarningAction SilentlyContinue -TokenProvider { throw 'Run Connect-AzAccount first.' } -ErrorAction Stop } |
            Should -Throw -ErrorId 'TokenProviderFailed*' -ExpectedMessage '*Run Connect-AzAccount first.*'
        { Connect-D365 -Environment $ready.environment -SkipCertificateCheck -WarningAction SilentlyContinue -TokenProvider { } -ErrorAction Stop } |
            Should -Throw -ErrorId 'TokenProviderNoToken*'
    }

    It 'runs the provider in the runspace of Connect-D365 when another runspace uses the session while it is idle' {
        $homeRunspace = [runspacefactory]::CreateRunspace()
        $homeRunspace.Open()
        try {
            $connect = [powershell]::Create()
            $connect.Runspace = $homeRunspace
            $form = @{ grant_type = 'client_credentials'; client_id = $ready.clientId; client_secret = $ready.clientSecret; scope = "$($ready.environment)/.default" }
            $session = $connect.AddScript({
                param($manifest, $environment, $tokenEndpoint, $form)
                Import-Module $manifest
                Connect-D365 -Environment $environment -SkipCertificateCheck -WarningAction SilentlyContinue -TokenProvider {
                    $global:providerRunspace = [runspace]::DefaultRunspace.InstanceId
                    (Invoke-RestMethod -Method Post -Uri $tokenEndpoint -Body $form -SkipCertificateCheck).access_token
                }.GetNewClosure()
            }).AddArgument($manifest).AddArgument($ready.environment).AddArgument("$($ready.authorityHost)/$($ready.tenantId)/oauth2/v2.0/token").AddArgument($form).Invoke()[0]
            $connect.Dispose()
            $requests = $session.TokenRequests
            $homeRunspace.SessionStateProxy.SetVariable('providerRunspace', $null)

            # The token in hand is past half its life: this runspace's command needs a new one from the idle home runspace.
            Start-Sleep -Seconds 7
            '<Document/>' | Set-Content -Path (Join-Path $work 'elsewhere.xml')
            $sent = Send-D365Enqueue -Session $session -Path (Join-Path $work 'elsewhere.xml') -ActivityId $ready.importActivity -ErrorAction Stop

            $sent.MessageId | Should -Not -BeNullOrEmpty
            $session.TokenRequests | Should -Be ($requests + 1)
            $homeRunspace.SessionStateProxy.GetVariable('providerRunspace') | Should -Be $homeRunspace.InstanceId
        }
        finally {
            $homeRunspace.Dispose()
        }
    }
    It 'says TokenProviderUnavailable once the token has expired while the runspace of Connect-D365 is busy' {
        $homeRunspace = [runspacefactory]::CreateRunspace()
        $homeRunspace.Open()
        $busy = [powershell]::Create()
        try {
            $connect = [powershell]::Create()
            $connect.Runspace = $homeRunspace
            $form = @{ grant_type = 'client_credentials'; client_id = $ready.clientId; client_secret = $ready.clientSecret; scope = "$($ready.environment)/.default" }
            # The provider says its token lasts two seconds, so the next command needs a new one.
            $session = $connect.AddScript({
                param($manifest, $environment, $tokenEndpoint, $form)
                Import-Module $manifest
                Connect-D365 -Environment $environment -SkipCertificateCheck -WarningAction SilentlyContinue -TokenProvider {
                    @{ Token = (Invoke-RestMethod -Method Post -Uri $tokenEndpoint -Body $form -SkipCertificateCheck).access_token; ExpiresOn = [DateTimeOffset]::UtcNow.AddSeconds(2) }
                }.GetNewClosure()
            }).AddArgument($manifest).AddArgument($ready.environment).AddArgument("$($ready.authorityHost)/$($ready.tenantId)/oauth2/v2.0/token").AddArgument($form).Invoke()[0]
            $connect.Dispose()
            $busy.Runspace = $homeRunspace
            $running = $busy.AddScript('Start-Sleep -Seconds 30').BeginInvoke()
            Start-Sleep -Seconds 3

            '<Document/>' | Set-Content -Path (Join-Path $work 'busy.xml')
            { Send-D365Enqueue -Session $session -Path (Join-Path $work 'busy.xml') -ActivityId $ready.importActivity -ErrorAction Stop } |
                Should -Throw -ErrorId 'TokenProviderUnavailable*' -ExpectedMessage '*busy*'
        }
        finally {
            $busy.Stop()
            $busy.Dispose()
            $homeRunspace.Dispose()
        }
    }
}

Describe 'Connect-D365 -FederatedTokenFile and -ClientAssertion' {
    It 'signs in with a client assertion read from a file, AZURE_FEDERATED_TOKEN_FILE when none is named' {
        $tokenFile = Join-Path $work 'federated-token'
        New-ClientAssertion "$($ready.authorityHost)/$($ready.tenantId)/oauth2/v2.0/token" | Set-Content -Path $tokenFile
        $env:AZURE_FEDERATED_TOKEN_FILE = $tokenFile
        try {
            $session = Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId -ClientId $ready.clientId `
                -FederatedTokenFile $env:AZURE_FEDERATED_TOKEN_FILE -SkipCertificateCheck -WarningAction SilentlyContinue
            $session.AuthenticationKind | Should -Be 'ClientAssertion'
            $result = Invoke-RoundTrip 'federated'
            $result.Statuses | Should -Be 'Processed'
            $result.Saved | Should -Be 1

            Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId -ClientId $ready.clientId `
                -FederatedTokenFile '' -SkipCertificateCheck -WarningAction SilentlyContinue | Should -Not -BeNullOrEmpty
            Remove-Item Env:AZURE_FEDERATED_TOKEN_FILE
            { Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId -ClientId $ready.clientId `
                -FederatedTokenFile '' -SkipCertificateCheck -WarningAction SilentlyContinue -ErrorAction Stop } | Should -Throw -ErrorId 'FederatedTokenFileMissing*' -ExpectedMessage '*AZURE_FEDERATED_TOKEN_FILE*'
        }
        finally {
            Remove-Item Env:AZURE_FEDERATED_TOKEN_FILE -ErrorAction SilentlyContinue
        }
    }

    It 'asks a -ClientAssertion script for a fresh assertion at each token request' {
        $counter = @{ Calls = 0 }
        $audience = "$($ready.authorityHost)/$($ready.tenantId)/oauth2/v2.0/token"
        Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId -ClientId $ready.clientId `
            -SkipCertificateCheck -WarningAction SilentlyContinue -ClientAssertion { $counter.Calls++; New-ClientAssertion $audience } | Out-Null
        $result = Invoke-RoundTrip 'assertion-script' -BetweenSteps { Start-Sleep -Seconds 7 }
        $result.Statuses | Should -Be 'Processed'
        $counter.Calls | Should -Be 3
    }
}

Describe 'Connect-D365 -DeviceCode' {
    It 'shows the sign-in message as a warning, signs in once the code is approved, and refreshes silently after' {
        $session = Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -TenantId $ready.tenantId -ClientId $ready.clientId `
            -DeviceCode -SkipCertificateCheck -WarningVariable warnings -WarningAction SilentlyContinue
        $session.AuthenticationKind | Should -Be 'DeviceCode'
        @($warnings | Where-Object { "$_" -like '*enter the code*' }).Count | Should -Be 1

        $result = Invoke-RoundTrip 'device-code' -BetweenSteps { Start-Sleep -Seconds 7 } -WarningVariable later -WarningAction SilentlyContinue
        $result.Statuses | Should -Be 'Processed'
        $later | Should -BeNullOrEmpty -Because 'refreshes are silent: no second sign-in'
        $session.TokenRequests | Should -Be 3
    }

    It 'says to allow public client flows when the app does not' {
        $strict = Start-D365Emulator -ArgumentList '--no-public-client-flows'
        try {
            { Connect-D365 -Environment $strict.Ready.environment -AuthorityHost $strict.Ready.authorityHost -TenantId $strict.Ready.tenantId `
                -ClientId $strict.Ready.clientId -DeviceCode -SkipCertificateCheck -WarningAction SilentlyContinue -ErrorAction Stop } |
                Should -Throw -ErrorId 'PublicClientFlowsDisabled*' -ExpectedMessage '*public client flows*'
        }
        finally {
            Stop-D365Emulator $strict
        }
    }
}

Describe 'Connect-D365 with an AD FS authority host' {
    It 'signs in at the AD FS token endpoint with a client secret and with a certificate, no tenant needed' {
        $adfs = "$($ready.environment)/adfs"
        $secret = ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force
        $session = Connect-D365 -Environment $ready.environment -AuthorityHost $adfs -ClientId $ready.clientId -ClientSecret $secret `
            -SkipCertificateCheck -WarningAction SilentlyContinue
        $session.AuthorityHost | Should -Be $adfs
        $result = Invoke-RoundTrip 'adfs'
        $result.Statuses | Should -Be 'Processed'
        $result.Saved | Should -Be 1

        Connect-D365 -Environment $ready.environment -AuthorityHost $adfs -ClientId $ready.clientId -Certificate $certificate `
            -SkipCertificateCheck -WarningAction SilentlyContinue | Out-Null
        (Invoke-RoundTrip 'adfs-certificate').Statuses | Should -Be 'Processed'
    }

    It 'still asks for a tenant with an Entra ID authority' {
        $secret = ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force
        { Connect-D365 -Environment $ready.environment -AuthorityHost $ready.authorityHost -ClientId $ready.clientId -ClientSecret $secret `
            -SkipCertificateCheck -WarningAction SilentlyContinue -ErrorAction Stop } | Should -Throw -ErrorId 'TenantIdMissing*'
    }
}

Describe 'Connect-D365 to an on-premises environment' {
    BeforeAll {
        $onPremisesExports = Join-Path $work 'on-premises-exports'
        New-Item -ItemType Directory -Path $onPremisesExports -Force | Out-Null
        '<Export><Row>on-premises</Row></Export>' | Set-Content -Path (Join-Path $onPremisesExports 'export.xml')
        # The API under /namespaces/AXSF (a call without the path is redirected, so none can lose it), AD FS sign-in.
        $script:onPremises = Start-D365Emulator -ArgumentList '--on-premises', '--processing-delay-ms', '200', '--export-folder', $onPremisesExports
    }

    AfterAll {
        if ($script:onPremises) { Stop-D365Emulator $script:onPremises }
    }

    It 'signs in with AD FS and a client secret for the URL with its path, and enqueues, waits, dequeues and acknowledges' {
        $environment = $onPremises.Ready.environment
        $environment | Should -BeLike 'https://127.0.0.1:*/namespaces/AXSF'
        $onPremises.Ready.authorityHost | Should -BeLike 'https://127.0.0.1:*/adfs'
        $onPremises.ConnectParameters.ContainsKey('TenantId') | Should -BeFalse

        $secret = ConvertTo-SecureString $onPremises.Ready.clientSecret -AsPlainText -Force
        $session = Connect-D365 -Environment "$environment/" -AuthorityHost $onPremises.Ready.authorityHost -ClientId $onPremises.Ready.clientId `
            -ClientSecret $secret -SkipCertificateCheck -WarningAction SilentlyContinue
        $session.Environment | Should -Be $environment
        $session.AuthenticationKind | Should -Be 'ClientSecret'

        $result = Invoke-RoundTrip 'on-premises' -ErrorVariable failures
        $failures | Should -BeNullOrEmpty
        $result.Statuses | Should -Be 'Processed'
        $result.Received | Should -Be 1
        $result.Saved | Should -Be 1
        $origin = ([uri] $environment).GetLeftPart('Authority')
        $exported = (Invoke-RestMethod -Uri "$origin/emulator/messages" -SkipCertificateCheck).exports
        @($exported | Where-Object acknowledged).Count | Should -Be 1
    }

    It 'says UnexpectedRedirect, naming the whole URL to give, when the environment is given without its path' {
        $secret = ConvertTo-SecureString $onPremises.Ready.clientSecret -AsPlainText -Force
        $origin = ([uri] $onPremises.Ready.environment).GetLeftPart('Authority')
        Connect-D365 -Environment $origin -AuthorityHost $onPremises.Ready.authorityHost -ClientId $onPremises.Ready.clientId `
            -ClientSecret $secret -SkipCertificateCheck -WarningAction SilentlyContinue | Out-Null
        { Receive-D365Dequeue -ActivityId $ready.exportActivity -OutputPath (Join-Path $work 'no-path') -ErrorAction Stop } |
            Should -Throw -ErrorId 'UnexpectedRedirect*' -ExpectedMessage '*/namespaces/AXSF*'
    }
}
