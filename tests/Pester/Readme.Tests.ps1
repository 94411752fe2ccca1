#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The README's commands, run one by one against the emulator. Each command is written here exactly as the README
# shows it and the README is checked to still contain it, so the two cannot drift apart. The only change made before
# running is the example environment URL, which becomes the emulator's; the emulator accepts the README's tenant and
# client id, and $PSDefaultParameterValues adds its authority host and certificate check.
# Run elsewhere: './build.ps1 -Task Demo' (Demo.Tests), './build.ps1 -Task Package' (Package.Tests),
# 'pwsh ./build.ps1 -Task Test' (.ci/run, which runs this suite too).

BeforeAll {
    $script:repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:readme = (Get-Content (Join-Path $repositoryRoot 'README.md') -Raw) -replace "`r`n", "`n"
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-readme-' + [guid]::NewGuid().ToString('N'))
    $exportFolder = Join-Path $work 'exports'
    New-Item -ItemType Directory -Path $exportFolder, (Join-Path $work 'in') -Force | Out-Null
    '<Export><Row>1</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export1.xml')
    '<CustomerGroup><Id>10</Id></CustomerGroup>' | Set-Content (Join-Path $work 'in/a.xml')
    "<CustomerGroup><Id>20</Id></CustomerGroup>`nEMULATOR-ERROR: Customer group 20 has no terms of payment" | Set-Content (Join-Path $work 'in/b.xml')

    # The app's certificate: registered with the emulator (its public part) and put in the CurrentUser\My store.
    $rsa = [Security.Cryptography.RSA]::Create(2048)
    $request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=RecurringIntegrations README test', $rsa,
        [Security.Cryptography.HashAlgorithmName]::SHA256, [Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $created = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddMinutes(-5), [DateTimeOffset]::UtcNow.AddDays(1))
    $script:cert = [Security.Cryptography.X509Certificates.X509Certificate2]::new($created.Export('Pfx'), [string] $null,
        [Security.Cryptography.X509Certificates.X509KeyStorageFlags]'Exportable, PersistKeySet')
    $publicCertificate = Join-Path $work 'app.cer'
    [IO.File]::WriteAllBytes($publicCertificate, $cert.Export('Cert'))
    $script:store = [Security.Cryptography.X509Certificates.X509Store]::new('My', 'CurrentUser')
    $store.Open('ReadWrite')
    $store.Add($cert)

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200', '--export-folder', $exportFolder,
        '--tenant', 'contoso.onmicrosoft.com', '--client-id', '11111111-2222-3333-4444-555555555555',
        '--client-certificate', $publicCertificate, '--device-code-approval-ms', '500'
    Import-Module (Join-Path $repositoryRoot 'out/RecurringIntegrations/RecurringIntegrations.psd1') -Force
    $PSDefaultParameterValues = @{
        'Connect-D365:AuthorityHost'        = $emulator.Ready.authorityHost
        'Connect-D365:SkipCertificateCheck' = $true
        'Connect-D365:WarningAction'        = 'SilentlyContinue'
    }

    # The variables the README's commands use.
    $script:environment = $emulator.Ready.environment
    $script:tenant = $emulator.Ready.tenantId
    $script:app = $emulator.Ready.clientId
    $script:secret = ConvertTo-SecureString $emulator.Ready.clientSecret -AsPlainText -Force
    $script:importJob = $emulator.Ready.importActivity
    $script:exportJob = $emulator.Ready.exportActivity

    function Invoke-ReadmeCommand([string] $Command) {
        $script:readme.Contains($Command) | Should -BeTrue -Because "the README shows: $Command"
        $runnable = $Command.Replace('https://contoso.operations.dynamics.com', $environment)
        & ([scriptblock]::Create($runnable))
    }
}

AfterAll {
    if ($script:store) {
        $store.Remove($cert)
        $store.Dispose()
    }
    Disconnect-D365 -ErrorAction SilentlyContinue
    Remove-Module RecurringIntegrations -Force -ErrorAction SilentlyContinue
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'README: the commands' {
    It 'names the demo, the test command and the test task that other suites run' {
        $readme | Should -Match ([regex]::Escape('pwsh ./build.ps1 -Task Demo'))
        $readme | Should -Match ([regex]::Escape('./build.ps1 -Task Package'))
        $readme | Should -Match ([regex]::Escape('pwsh ./build.ps1 -Task Test'))
        $readme | Should -Match ([regex]::Escape('`dotnet test` alone runs the xunit half'))
        Get-Content (Join-Path $repositoryRoot '.ci/run') -Raw | Should -Match ([regex]::Escape('-File ./build.ps1 -Task Test'))
    }
}

Describe 'README: Install' {
    It 'imports the built module from the repository root' {
        Push-Location $repositoryRoot
        try {
            Invoke-ReadmeCommand 'Import-Module ./out/RecurringIntegrations/RecurringIntegrations.psd1'
        }
        finally {
            Pop-Location
        }
        Get-Command Connect-D365 | Should -Not -BeNullOrEmpty
    }
}

Describe 'README: A quick tour' {
    BeforeAll { Push-Location $work }
    AfterAll { Pop-Location }

    It 'reads the secret from the console (not run: a test has no console; $secret is set instead)' {
        $readme.Contains("`$secret = Read-Host -AsSecureString 'Client secret'") | Should -BeTrue
    }

    It 'signs in' {
        $session = Invoke-ReadmeCommand ("Connect-D365 -Environment https://contoso.operations.dynamics.com -TenantId contoso.onmicrosoft.com ``" +
            "`n    -ClientId 11111111-2222-3333-4444-555555555555 -ClientSecret `$secret")
        $session.Environment | Should -Be $environment
    }

    It 'imports, waits and shows what went wrong' {
        $errors = Invoke-ReadmeCommand ("Get-ChildItem .\in\*.xml | Send-D365Enqueue -ActivityId `$importJob -EntityName 'Customer groups' |" +
            "`n    Get-D365MessageStatus -Wait | Where-Object Status -ne 'Processed' | Get-D365ExecutionError")
        @($errors).Count | Should -Be 1
        $errors.ErrorMessage | Should -Match 'no terms of payment'
    }

    It 'exports and acknowledges' {
        Invoke-ReadmeCommand 'Receive-D365Dequeue -ActivityId $exportJob -OutputPath .\out | Confirm-D365Ack' | Should -BeNullOrEmpty
        @(Get-ChildItem (Join-Path $work 'out') -File).Count | Should -Be 1
        Receive-D365Dequeue -ActivityId $exportJob -OutputPath (Join-Path $work 'again') | Should -BeNullOrEmpty
    }

    It 'reports' {
        $ids = (Send-D365Enqueue -Path (Join-Path $work 'in/a.xml') -ActivityId $importJob -EntityName 'Customer groups').MessageId
        Invoke-ReadmeCommand 'Get-D365MessageStatus -MessageId $ids | Export-Csv status.csv -NoTypeInformation -Encoding UTF8'
        (Import-Csv (Join-Path $work 'status.csv')).MessageId | Should -Be ([string] $ids)
    }

    It 'reports one row per file, naming it, with no join' {
        Invoke-ReadmeCommand ("Get-ChildItem .\in\*.xml | Send-D365Enqueue -ActivityId `$importJob -EntityName 'Customer groups' |" +
            "`n    Get-D365MessageStatus -Wait | Export-Csv status.csv -NoTypeInformation -Encoding UTF8")
        $rows = @(Import-Csv (Join-Path $work 'status.csv'))
        $rows.FileName | Should -Be @(Get-ChildItem (Join-Path $work 'in') -Filter *.xml | Sort-Object Name).Name
        $rows | ForEach-Object { $_.Status | Should -Not -BeNullOrEmpty; $_.ExecutionId | Should -Not -BeNullOrEmpty; $_.EnqueuedAt | Should -Not -BeNullOrEmpty }
    }
}

Describe 'README: Folder workflows' {
    BeforeAll {
        Push-Location $work
        New-Item -ItemType Directory -Path inbox | Out-Null
        '<CustomerGroup><Id>30</Id></CustomerGroup>' | Set-Content inbox/c.xml
        # Older than the settle time, as a file dropped a while ago.
        (Get-Item inbox/c.xml).LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-1)
        $PSDefaultParameterValues['Invoke-D365FolderImport:PollIntervalSeconds'] = 1
        $connect = $emulator.ConnectParameters
        Connect-D365 @connect | Out-Null
    }
    AfterAll {
        $PSDefaultParameterValues.Remove('Invoke-D365FolderImport:PollIntervalSeconds')
        Pop-Location
    }

    It 'imports the inbox and drains the export queue into a folder' {
        $rows = Invoke-ReadmeCommand ("Invoke-D365FolderImport -Path .\inbox -ActivityId `$importJob -EntityName 'Customer groups'`n" +
            "Invoke-D365FolderExport -Path .\exports -ActivityId `$exportJob")
        # The quick tour emptied the export queue: only the import has a row.
        @($rows).Count | Should -Be 1
        $rows.Outcome | Should -Be 'Processed'
        Test-Path (Join-Path $work 'inbox/processed/c.xml') | Should -BeTrue
        Test-Path (Join-Path $work 'exports/journal.csv') | Should -BeTrue
    }
}

Describe 'README: an inbox of data packages' {
    BeforeAll {
        Push-Location $work
        New-Item -ItemType Directory -Path packages, packagedata | Out-Null
        'CUSTGROUP', '80' | Set-Content packagedata/groups.csv
        New-D365DataPackage -Path packagedata/groups.csv -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath packages/groups.zip | Out-Null
        'CUSTGROUP', '90' | Set-Content packages/raw.csv
        # Older than the settle time, as files dropped a while ago.
        Get-ChildItem packages | ForEach-Object { $_.LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-1) }
        $PSDefaultParameterValues['Invoke-D365FolderImport:PollIntervalSeconds'] = 1
        $connect = $emulator.ConnectParameters
        Connect-D365 @connect | Out-Null
    }
    AfterAll {
        $PSDefaultParameterValues.Remove('Invoke-D365FolderImport:PollIntervalSeconds')
        Pop-Location
    }

    It 'imports the package into the data project and refuses the data file, which stays in the inbox' {
        # The refused data file is a non-terminating error, as in a user's session (the suite's runner sets Stop).
        $out = & {
            $ErrorActionPreference = 'Continue'
            Invoke-ReadmeCommand "Invoke-D365FolderImport -Path .\packages -DefinitionGroupId 'Customer groups import' -LegalEntityId usmf"
        } 2>&1
        $rows = @($out | Where-Object { $_.PSTypeNames -contains 'RecurringIntegrations.FolderImportResult' })
        $errors = @($out | Where-Object { $_ -is [Management.Automation.ErrorRecord] })
        $rows.Count | Should -Be 1
        $rows[0].FileName | Should -Be 'groups.zip'
        $rows[0].Outcome | Should -Be 'Processed'
        $rows[0].Status | Should -Be 'Succeeded'
        $rows[0].ExecutionId | Should -Not -BeNullOrEmpty
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'PackageInboxRawFile*'
        Test-Path (Join-Path $work 'packages/processed/groups.zip') | Should -BeTrue
        Test-Path (Join-Path $work 'packages/raw.csv') | Should -BeTrue
        $journal = @(Import-Csv (Join-Path $work 'packages/journal.csv'))
        ($journal | Where-Object File -eq 'groups.zip').Event | Should -Be @('Sending', 'Importing', 'Sent', 'Processed')
        ($journal | Where-Object Event -eq 'Importing').MessageId | Should -Be $rows[0].ExecutionId
    }
}

Describe 'README: A company per file' {
    BeforeAll {
        $script:companies = Join-Path $work 'companies'
        foreach ($file in 'inbox/USMF/a.csv', 'inbox/DEMF/a.csv', 'in/USMF_b.csv', 'in/DEMF_c.csv') {
            New-Item -ItemType Directory -Path (Split-Path (Join-Path $companies $file)) -Force | Out-Null
            "CUSTOMERGROUPID`n$file" | Set-Content (Join-Path $companies $file)
            (Get-Item (Join-Path $companies $file)).LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-1)
        }
        @([pscustomobject]@{ Path = (Join-Path $companies 'in/USMF_b.csv'); Company = 'USMF' }) |
            Export-Csv (Join-Path $companies 'manifest.csv') -NoTypeInformation -Encoding UTF8
        Push-Location $companies
        $PSDefaultParameterValues['Invoke-D365FolderImport:PollIntervalSeconds'] = 1
        $PSDefaultParameterValues['Invoke-D365FolderImport:SettleSeconds'] = 0
        $connect = $emulator.ConnectParameters
        Connect-D365 @connect | Out-Null
        function Get-ReceivedCompany([guid] $MessageId) {
            ((Invoke-RestMethod "$environment/emulator/messages" -SkipCertificateCheck).imports | Where-Object messageId -eq $MessageId).company
        }
    }
    AfterAll {
        $PSDefaultParameterValues.Remove('Invoke-D365FolderImport:PollIntervalSeconds')
        $PSDefaultParameterValues.Remove('Invoke-D365FolderImport:SettleSeconds')
        Pop-Location
    }

    It 'imports an inbox of company subfolders, each file into its company' {
        $rows = Invoke-ReadmeCommand ("Invoke-D365FolderImport -Path .\inbox -ActivityId `$importJob -EntityName 'Customer groups' -CompanyFrom Subfolder |" +
            "`n    Get-D365MessageStatus | Select-Object FileName, Company, Status")
        @($rows | ForEach-Object { "$($_.Company) $($_.FileName)" } | Sort-Object) | Should -Be @('DEMF a.csv', 'USMF a.csv')
        Test-Path (Join-Path $companies 'inbox/processed/USMF/a.csv') | Should -BeTrue
        Test-Path (Join-Path $companies 'inbox/processed/DEMF/a.csv') | Should -BeTrue
    }

    It 'takes the company from the file name, from a manifest and from a script block' {
        Copy-Item in/USMF_b.csv inbox/USMF_b.csv
        (Get-Item inbox/USMF_b.csv).LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-1)
        $byName = Invoke-ReadmeCommand "Invoke-D365FolderImport -Path .\inbox -ActivityId `$importJob -CompanyFrom FileName -CompanyPattern '^(?<company>[^_]+)_'"
        Get-ReceivedCompany $byName.MessageId | Should -Be 'USMF'

        $manifest = Invoke-ReadmeCommand "Import-Csv .\manifest.csv | Send-D365Enqueue -ActivityId `$importJob -EntityName 'Customer groups' -ThrottleLimit 4"
        Get-ReceivedCompany $manifest.MessageId | Should -Be 'USMF'

        $sent = Invoke-ReadmeCommand "Get-ChildItem .\in\*.csv | Send-D365Enqueue -ActivityId `$importJob -Company { `$_.BaseName.Split('_')[0] }"
        @($sent | Sort-Object FileName | ForEach-Object { Get-ReceivedCompany $_.MessageId }) | Should -Be @('DEMF', 'USMF')
    }
}

Describe 'README: Connecting' {
    AfterEach { (Get-D365Session).Environment | Should -Be $environment }

    It 'with a client secret' {
        Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -TenantId $tenant -ClientId $app -ClientSecret $secret' |
            Select-Object -ExpandProperty AuthenticationKind | Should -Be 'ClientSecret'
    }

    It 'with an Azure Automation credential asset' {
        # Stands in for the Azure Automation command; the credential is the app's id and secret.
        $asset = [pscredential]::new($app, $secret)
        Set-Item Function:global:Get-AutomationPSCredential -Value ({ param([string] $Name) $asset }.GetNewClosure())
        try {
            Invoke-ReadmeCommand "Connect-D365 -Environment `$environment -TenantId `$tenant -Credential (Get-AutomationPSCredential -Name 'D365 app')" |
                Should -Not -BeNullOrEmpty
        }
        finally {
            Remove-Item Function:Get-AutomationPSCredential
        }
    }

    It 'with a certificate from the store and as an object' {
        $byThumbprint = 'Connect-D365 -Environment $environment -TenantId $tenant -ClientId $app -CertificateThumbprint 0123456789ABCDEF0123456789ABCDEF01234567'
        $readme.Contains($byThumbprint) | Should -BeTrue
        & ([scriptblock]::Create($byThumbprint.Replace('0123456789ABCDEF0123456789ABCDEF01234567', $cert.Thumbprint))) |
            Select-Object -ExpandProperty CertificateThumbprint | Should -Be $cert.Thumbprint
        Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -TenantId $tenant -ClientId $app -Certificate $cert' |
            Select-Object -ExpandProperty AuthenticationKind | Should -Be 'Certificate'
    }

    It 'with the managed identity, system- and user-assigned' {
        $env:IDENTITY_ENDPOINT = $emulator.Ready.managedIdentityEndpoint
        $env:IDENTITY_HEADER = $emulator.Ready.managedIdentityHeader
        try {
            (Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -ManagedIdentity').AuthenticationKind | Should -BeLike 'ManagedIdentity*'
            $userAssignedId = [guid]::NewGuid().ToString()
            (Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -ManagedIdentity -ClientId $userAssignedId').ClientId | Should -Be $userAssignedId
        }
        finally {
            Remove-Item Env:IDENTITY_ENDPOINT, Env:IDENTITY_HEADER
        }
    }

    It 'with a token you already hold' {
        $request = @{
            Method = 'Post'
            Uri    = "$($emulator.Ready.authorityHost)/$tenant/oauth2/v2.0/token"
            Body   = @{ grant_type = 'client_credentials'; client_id = $app; client_secret = $emulator.Ready.clientSecret; scope = "$environment/.default" }
        }
        if ($PSVersionTable.PSVersion.Major -ge 6) { $request.SkipCertificateCheck = $true }
        else { [Net.ServicePointManager]::ServerCertificateValidationCallback = { $true } }
        $secureToken = ConvertTo-SecureString (Invoke-RestMethod @request).access_token -AsPlainText -Force
        (Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -AccessToken $secureToken').AuthenticationKind | Should -Be 'AccessToken'
        Get-D365MessageStatus -MessageId ([guid]::NewGuid()) -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure[0].FullyQualifiedErrorId | Should -Not -BeLike 'Unauthorized*'
    }
}

Describe 'README: Keeping secrets' {
    AfterEach { (Get-D365Session).Environment | Should -Be $environment }

    It 'with a client secret from SecretManagement' {
        # Stands in for Microsoft.PowerShell.SecretManagement's Get-Secret.
        $value = $secret
        Set-Item Function:global:Get-Secret -Value ({ param([string] $Name) if ($Name -eq 'D365 app') { $value } }.GetNewClosure())
        try {
            Invoke-ReadmeCommand "Connect-D365 -Environment `$environment -TenantId `$tenant -ClientId `$app -ClientSecret (Get-Secret -Name 'D365 app')" |
                Select-Object -ExpandProperty AuthenticationKind | Should -Be 'ClientSecret'
        }
        finally {
            Remove-Item Function:Get-Secret
        }
        $readme | Should -Match 'never in a script or in an `Export-Clixml` file'
    }

    It 'with a Key Vault certificate' {
        # Stands in for Az.KeyVault: the certificate's private key as Key Vault hands it out, a base64 PFX.
        $base64 = [Convert]::ToBase64String($cert.Export('Pfx'))
        Set-Item Function:global:Get-AzKeyVaultSecret -Value ({ param([string] $VaultName, [string] $Name, [switch] $AsPlainText) $base64 }.GetNewClosure())
        try {
            Invoke-ReadmeCommand ("`$pfx = [Convert]::FromBase64String((Get-AzKeyVaultSecret -VaultName contoso-d365 -Name d365-app-cert -AsPlainText))" +
                "`n`$cert = [Security.Cryptography.X509Certificates.X509Certificate2]::new(`$pfx, [string] `$null, 'EphemeralKeySet')" +
                "`nConnect-D365 -Environment `$environment -TenantId `$tenant -ClientId `$app -Certificate `$cert") |
                Select-Object -ExpandProperty AuthenticationKind | Should -Be 'Certificate'
        }
        finally {
            Remove-Item Function:Get-AzKeyVaultSecret
        }
    }
}

Describe 'README: Connecting, tokens and federated credentials from elsewhere' {
    BeforeAll {
        $script:tokenRequest = @{
            Method = 'Post'
            Uri    = "$($emulator.Ready.authorityHost)/$tenant/oauth2/v2.0/token"
            Body   = @{ grant_type = 'client_credentials'; client_id = $app; client_secret = $emulator.Ready.clientSecret; scope = "$environment/.default" }
        }
        if ($PSVersionTable.PSVersion.Major -ge 6) { $tokenRequest.SkipCertificateCheck = $true }
        else { [Net.ServicePointManager]::ServerCertificateValidationCallback = { $true } }
        # A client assertion as a federated issuer hands it over, signed by the app's registered certificate.
        function New-FederatedToken {
            $encode = { param($bytes) [Convert]::ToBase64String($bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_') }
            $now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
            $header = & $encode ([Text.Encoding]::UTF8.GetBytes('{"alg":"RS256","typ":"JWT"}'))
            $claims = & $encode ([Text.Encoding]::UTF8.GetBytes((@{ aud = $tokenRequest.Uri; iss = $app; sub = $app; nbf = $now; exp = $now + 600 } | ConvertTo-Json -Compress)))
            $key = [Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($cert)
            "$header.$claims." + (& $encode $key.SignData([Text.Encoding]::ASCII.GetBytes("$header.$claims"), 'SHA256', [Security.Cryptography.RSASignaturePadding]::Pkcs1))
        }
    }
    AfterEach { (Get-D365Session).Environment | Should -Be $environment }

    It 'with Get-AzAccessToken, in the forms of Az.Accounts 2.x and 5.x' {
        foreach ($version in 2, 5) {
            # Stands in for Az.Accounts: Token is a string in 2.x and a SecureString in 5.x.
            $request = $tokenRequest
            Set-Item Function:global:Get-AzAccessToken -Value ({
                param([string] $ResourceUrl)
                $token = (Invoke-RestMethod @request).access_token
                if ($version -ge 5) { $token = ConvertTo-SecureString $token -AsPlainText -Force }
                [pscustomobject]@{ Token = $token; ExpiresOn = [DateTimeOffset]::UtcNow.AddHours(1); Type = 'Bearer' }
            }.GetNewClosure())
            try {
                (Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -TokenProvider { Get-AzAccessToken -ResourceUrl $environment }').AuthenticationKind |
                    Should -Be 'TokenProvider'
                Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -TokenProvider { (Get-AzAccessToken -ResourceUrl $environment).Token }' |
                    Select-Object -ExpandProperty TokenExpiresOn | Should -BeGreaterThan ([DateTimeOffset]::Now)
                Get-D365MessageStatus -MessageId ([guid]::NewGuid()) -ErrorAction SilentlyContinue -ErrorVariable failure
                $failure | Where-Object FullyQualifiedErrorId -like 'Unauthorized*' | Should -BeNullOrEmpty
            }
            finally {
                Remove-Item Function:Get-AzAccessToken
            }
        }
    }

    It 'with a token kept in Key Vault' {
        $request = $tokenRequest
        Set-Item Function:global:Get-AzKeyVaultSecret -Value ({ param($VaultName, $Name, [switch] $AsPlainText) (Invoke-RestMethod @request).access_token }.GetNewClosure())
        try {
            (Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -TokenProvider { Get-AzKeyVaultSecret -VaultName contoso-vault -Name d365-token -AsPlainText }').AuthenticationKind |
                Should -Be 'TokenProvider'
        }
        finally {
            Remove-Item Function:Get-AzKeyVaultSecret
        }
    }

    It 'with a client assertion, from a variable, a federated token file and an Azure DevOps step' {
        $federatedToken = New-FederatedToken
        (Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -TenantId $tenant -ClientId $app -ClientAssertion $federatedToken').AuthenticationKind |
            Should -Be 'ClientAssertion'
        $env:AZURE_FEDERATED_TOKEN_FILE = Join-Path $work 'azure-identity-token'
        $env:D365_URL = $environment; $env:tenantId = $tenant; $env:servicePrincipalId = $app; $env:idToken = New-FederatedToken
        try {
            New-FederatedToken | Set-Content $env:AZURE_FEDERATED_TOKEN_FILE
            Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -TenantId $tenant -ClientId $app -FederatedTokenFile $env:AZURE_FEDERATED_TOKEN_FILE' |
                Should -Not -BeNullOrEmpty
            Invoke-ReadmeCommand 'Connect-D365 -Environment $env:D365_URL -TenantId $env:tenantId -ClientId $env:servicePrincipalId -ClientAssertion $env:idToken' |
                Should -Not -BeNullOrEmpty
        }
        finally {
            Remove-Item Env:AZURE_FEDERATED_TOKEN_FILE, Env:D365_URL, Env:tenantId, Env:servicePrincipalId, Env:idToken
        }
    }

    It 'with a device code, approved as a person would' {
        (Invoke-ReadmeCommand 'Connect-D365 -Environment $environment -TenantId $tenant -ClientId $app -DeviceCode').AuthenticationKind | Should -Be 'DeviceCode'
    }
}

Describe 'README: Connecting to an on-premises environment' {
    It 'with AD FS and the URL with its path' {
        $adfs = 'Connect-D365 -Environment https://ax.contoso.com/namespaces/AXSF -AuthorityHost https://adfs.contoso.com/adfs -ClientId $app -ClientSecret $secret'
        $readme.Contains($adfs) | Should -BeTrue
        $onPremises = Start-D365Emulator -ArgumentList '--on-premises', '--client-id', $app
        try {
            $session = & ([scriptblock]::Create($adfs.Replace('https://ax.contoso.com/namespaces/AXSF', $onPremises.Ready.environment).
                Replace('https://adfs.contoso.com/adfs', $onPremises.Ready.authorityHost)))
            $session.Environment | Should -Be $onPremises.Ready.environment
            $session.AuthorityHost | Should -Be $onPremises.Ready.authorityHost
            # A call under the path is answered (one without it would be redirected).
            Receive-D365Dequeue -ActivityId $exportJob -OutputPath (Join-Path $work 'on-premises') -ErrorAction Stop | Should -BeNullOrEmpty
        }
        finally {
            Stop-D365Emulator $onPremises
        }
    }
}

Describe 'README: The emulator' {
    It 'starts, connects and stops the emulator from PowerShell' {
        Push-Location $repositoryRoot
        try {
            Invoke-ReadmeCommand ("Import-Module ./src/RecurringIntegrations.Emulator/Emulator.psm1`n`$emulator = Start-D365Emulator`n" +
                "`$connect = `$emulator.ConnectParameters`nConnect-D365 @connect`nStop-D365Emulator `$emulator") | Should -Not -BeNullOrEmpty
        }
        finally {
            Pop-Location
        }
        # Back to this suite's emulator.
        $connect = $emulator.ConnectParameters
        Connect-D365 @connect | Out-Null
    }

    It 'lists the options with --help' {
        Push-Location $repositoryRoot
        try {
            $help = Invoke-ReadmeCommand 'dotnet src/RecurringIntegrations.Emulator/bin/Debug/net10.0/RecurringIntegrations.Emulator.dll --help'
        }
        finally {
            Pop-Location
        }
        $LASTEXITCODE | Should -Be 0
        ($help -join "`n") | Should -Match '--export-folder'
    }
}

Describe 'README: data packages' {
    BeforeAll {
        $secret = ConvertTo-SecureString $emulator.Ready.clientSecret -AsPlainText -Force
        Connect-D365 -Environment $environment -TenantId $tenant -ClientId $app -ClientSecret $secret | Out-Null
        Push-Location $work
        "CUSTOMERGROUPID,DESCRIPTION`r`n10,Retail`r`n20,EMULATOR-ERROR: Customer group 20 has no terms of payment" |
            Set-Content -Path (Join-Path $work 'CustGroups.csv') -Encoding Unicode
        $PSDefaultParameterValues['Import-D365DataPackage:PollIntervalSeconds'] = 1
        $PSDefaultParameterValues['Export-D365DataPackage:PollIntervalSeconds'] = 1
    }
    AfterAll { Pop-Location }

    It 'builds, imports and shows the errors of a package in one pipeline' {
        $errors = Invoke-ReadmeCommand @'
New-D365DataPackage -Path .\CustGroups.csv -EntityName 'Customer groups' -SourceFormat CSV-Unicode -OutputPath .\CustGroups.zip |
    Import-D365DataPackage -DefinitionGroupId 'Customer groups' -LegalEntityId usmf -Wait | Get-D365ExecutionError
'@
        @($errors).Count | Should -Be 1
        $errors.ErrorMessage | Should -Be 'Customer group 20 has no terms of payment'
    }

    It 'exports the data project and unpacks it' {
        $run = Invoke-ReadmeCommand @'
Export-D365DataPackage -DefinitionGroupId 'Customer groups' -LegalEntityId usmf -OutputPath .\exports -Expand
'@
        $run.Status | Should -Be 'Succeeded'
        Join-Path $work 'exports/Customer groups/Manifest.xml' | Should -Exist
    }
}
