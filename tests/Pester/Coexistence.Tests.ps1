#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The module shares a session with modules that bring their own MSAL or System.Text.Json (Az.Accounts, Microsoft.Graph,
# ExchangeOnlineManagement, PnP.PowerShell, MSAL.PS), loaded before it or after it. Each case runs in a fresh pwsh, as a
# user's session would, against the standalone emulator; Coexistence/Prelude.ps1 holds what the cases share. The other
# module's assemblies come from NuGet: Coexistence/OtherModuleAssemblies.csproj is built here, never committed as binaries.

BeforeAll {
    $repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:powershell = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('ri-coexist-' + [guid]::NewGuid().ToString('N'))
    $moduleFolder = Join-Path $repositoryRoot 'out/RecurringIntegrations'
    $script:manifest = Join-Path $moduleFolder 'RecurringIntegrations.psd1'
    $script:prelude = Join-Path $PSScriptRoot 'Coexistence/Prelude.ps1'

    $script:older = Join-Path $work 'other-module'
    $build = dotnet build (Join-Path $PSScriptRoot 'Coexistence/OtherModuleAssemblies.csproj') -o $older --nologo -v quiet 2>&1
    if ($LASTEXITCODE -ne 0) { throw "Restoring the other module's assemblies from NuGet failed: $build" }

    $exportFolder = Join-Path $work 'exports'
    New-Item -ItemType Directory -Path $exportFolder -Force | Out-Null
    '<Export><Row>1</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export1.xml')
    '<Export><Row>2</Row></Export>' | Set-Content -Path (Join-Path $exportFolder 'export2.xml')

    # The app's certificate: its public part registered with the emulator, the pfx for Connect-D365 -Certificate.
    $rsa = [Security.Cryptography.RSA]::Create(2048)
    $request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=RecurringIntegrations coexistence test', $rsa,
        [Security.Cryptography.HashAlgorithmName]::SHA256, [Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $certificate = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddMinutes(-5), [DateTimeOffset]::UtcNow.AddDays(1))
    $certificatePath = Join-Path $work 'app.pfx'
    [IO.File]::WriteAllBytes($certificatePath, $certificate.Export('Pfx'))
    $publicCertificate = Join-Path $work 'app.cer'
    [IO.File]::WriteAllBytes($publicCertificate, $certificate.Export('Cert'))

    Import-Module (Join-Path $repositoryRoot 'src/RecurringIntegrations.Emulator/Emulator.psm1') -Force
    $script:emulator = Start-D365Emulator -ArgumentList '--processing-delay-ms', '200', '--export-folder', $exportFolder,
        '--client-certificate', $publicCertificate
    $script:contextPath = Join-Path $work 'context.json'
    @{
        Ready           = $emulator.Ready
        Manifest        = $manifest
        ModuleFolder    = $moduleFolder
        Prelude         = $prelude
        OtherModule     = $older
        CertificatePath = $certificatePath
        Work            = $work
    } | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $contextPath

    # Runs one case in a fresh pwsh and returns what it reported on its last line.
    function Invoke-Case([string] $Name, [string] $Body) {
        $path = Join-Path $work "$Name.ps1"
        Set-Content -LiteralPath $path -Value ("param([string] `$ContextPath)`n. '$prelude' `$ContextPath`n" + $Body)
        $output = @(& $powershell -NoProfile -NonInteractive -File $path $contextPath 2>&1)
        $LASTEXITCODE | Should -Be 0 -Because ($output | Out-String)
        ($output | Where-Object { $_ -is [string] } | Select-Object -Last 1) | ConvertFrom-Json
    }
}

AfterAll {
    if ($script:emulator) { Stop-D365Emulator $script:emulator }
    if ($script:work) { Remove-Item $script:work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Another module loaded MSAL 4.61.3 first' {
    BeforeAll {
        $script:result = Invoke-Case 'msal-first' @'
Add-Type -Path (Join-Path $context.OtherModule 'Microsoft.IdentityModel.Abstractions.dll'), (Join-Path $context.OtherModule 'Microsoft.Identity.Client.dll')
$before = [Microsoft.Identity.Client.ConfidentialClientApplicationBuilder].Assembly.GetName().Version.ToString()
Import-Module $context.Manifest
$secret = Connect-WithSecret
$byCertificate = Connect-WithCertificate
$import = Invoke-ImportRoundTrip 'msal-first' $byCertificate
$received = @(Receive-D365Dequeue -ActivityId $ready.exportActivity -OutputPath (Join-Path $context.Work 'msal-first-out') |
    Confirm-D365Ack -PassThru)
Write-Result @{
    MsalBefore = $before
    Kinds      = @($secret.AuthenticationKind, $byCertificate.AuthenticationKind)
    Import     = $import
    Acked      = @($received | Where-Object { Test-Path -LiteralPath $_.Path }).Count
    Contexts   = @(Get-LoadContext)
}
'@
        # The table the lead quotes: where each of our assemblies, and the other module's MSAL, ended up.
        $result.Contexts | Format-Table Name, Version, Context, Location -AutoSize | Out-String -Width 240 | Write-Host
    }

    It 'still has the other module''s MSAL 4.61.3 in the default context' {
        $result.MsalBefore | Should -Be '4.61.3.0'
        $result.Contexts | Where-Object { $_.Name -eq 'Microsoft.Identity.Client' -and $_.Context -eq 'Default' } |
            ForEach-Object Version | Should -Be '4.61.3.0'
    }

    It 'connects with a client secret and with a certificate' {
        $result.Kinds | Should -Be 'ClientSecret', 'Certificate'
    }

    It 'enqueues, follows the statuses and reads the execution errors' {
        $result.Import.Statuses | Should -Be 'Processed', 'ProcessedWithErrors'
        $result.Import.Errors | Should -Be 'first', 'second'
    }

    It 'dequeues, saves and acknowledges every export' {
        $result.Acked | Should -Be 2
    }

    It 'loads Core and its MSAL 4.92 into the module''s own context, and only the cmdlet assembly and the loader into the default one' {
        $ours = $result.Contexts | Where-Object Location -like "$(Split-Path $manifest)*"
        $ours | Where-Object Context -eq 'Default' | ForEach-Object Name | Sort-Object |
            Should -Be 'RecurringIntegrations.Loader', 'RecurringIntegrations.PowerShell'
        foreach ($name in 'RecurringIntegrations.Core', 'Microsoft.Identity.Client', 'Microsoft.IdentityModel.Abstractions') {
            $ours | Where-Object Name -eq $name | ForEach-Object Context | Should -Be 'RecurringIntegrations' -Because $name
        }
        $ours | Where-Object Name -eq 'Microsoft.Identity.Client' | ForEach-Object Version | Should -Be '4.92.0.0'
    }

    It 'takes the runtime''s own System.Text.Json, not a copy of its own' {
        $result.Contexts | Where-Object Name -eq 'System.Text.Json' | ForEach-Object Context | Should -Be 'Default'
        $result.Contexts | Where-Object Name -eq 'System.Text.Json' | ForEach-Object Location | Should -Not -BeLike "$(Split-Path $manifest)*"
    }
}

Describe 'Our module connected first, then another module loads and uses MSAL 4.61.3' {
    BeforeAll {
        $script:result = Invoke-Case 'module-first' @'
Import-Module $context.Manifest
Connect-WithSecret | Out-Null
$first = Invoke-ImportRoundTrip 'module-first-1'
Add-Type -Path (Join-Path $context.OtherModule 'Microsoft.IdentityModel.Abstractions.dll'), (Join-Path $context.OtherModule 'Microsoft.Identity.Client.dll')
$app = [Microsoft.Identity.Client.ConfidentialClientApplicationBuilder]::Create($ready.clientId).
    WithClientSecret($ready.clientSecret).WithTenantId($ready.tenantId).Build()
$second = Invoke-ImportRoundTrip 'module-first-2'
Write-Result @{
    OtherMsal = $app.GetType().Assembly.GetName().Version.ToString()
    OtherContext = [Runtime.Loader.AssemblyLoadContext]::GetLoadContext($app.GetType().Assembly).Name
    ClientId  = $app.AppConfig.ClientId
    First     = $first
    Second    = $second
}
'@
    }

    It 'lets the other module load MSAL 4.61.3 into the default context and build a confidential client with it' {
        $result.OtherMsal | Should -Be '4.61.3.0'
        $result.OtherContext | Should -Be 'Default'
        $result.ClientId | Should -Be $emulator.Ready.clientId
    }

    It 'goes on working after the other MSAL arrived' {
        $result.First.Statuses | Should -Be 'Processed', 'ProcessedWithErrors'
        $result.Second.Statuses | Should -Be 'Processed', 'ProcessedWithErrors'
        $result.Second.Errors | Should -Be 'first', 'second'
    }
}

Describe 'Another module loaded an older System.Text.Json first' {
    BeforeAll {
        $script:result = Invoke-Case 'json-first' @'
$olderJson = Join-Path $context.OtherModule 'System.Text.Json.dll'
# As a user would, and as a module with its own load context would: the second really holds System.Text.Json 8.0.
Add-Type -Path $olderJson
$loaded = [Reflection.Assembly]::LoadFile($olderJson)
Import-Module $context.Manifest
Connect-WithSecret | Out-Null
Write-Result @{
    OlderLoaded = $loaded.GetName().Version.ToString()
    Import      = Invoke-ImportRoundTrip 'json-first'
    Contexts    = @(Get-LoadContext | Where-Object Name -eq 'System.Text.Json')
}
'@
    }

    It 'has the older System.Text.Json loaded in the process' {
        $result.OlderLoaded | Should -Be '8.0.0.0'
        $result.Contexts.Version | Should -Contain '8.0.0.0'
    }

    It 'enqueues, follows the statuses and reads the execution errors' {
        $result.Import.Statuses | Should -Be 'Processed', 'ProcessedWithErrors'
        $result.Import.Errors | Should -Be 'first', 'second'
    }
}

Describe 'Remove-Module and Import-Module again in one session' {
    It 'connects and works after the second import, with one Core in the process' {
        $result = Invoke-Case 'reimport' @'
Import-Module $context.Manifest
Connect-WithSecret | Out-Null
$first = Invoke-ImportRoundTrip 'reimport-1'
Remove-Module RecurringIntegrations
Import-Module $context.Manifest
Connect-WithCertificate | Out-Null
Write-Result @{
    First  = $first
    Second = Invoke-ImportRoundTrip 'reimport-2'
    Cores  = @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'RecurringIntegrations.Core' }).Count
}
'@
        $result.First.Statuses | Should -Be 'Processed', 'ProcessedWithErrors'
        $result.Second.Statuses | Should -Be 'Processed', 'ProcessedWithErrors'
        $result.Second.Errors | Should -Be 'first', 'second'
        $result.Cores | Should -Be 1
    }
}

Describe 'Two runspaces at once' {
    It 'share one session through ForEach-Object -Parallel' {
        $result = Invoke-Case 'parallel' @'
Import-Module $context.Manifest
$session = Connect-WithSecret
$preludePath = $context.Prelude
$runs = 1..2 | ForEach-Object -ThrottleLimit 2 -Parallel {
    . $using:preludePath $using:ContextPath
    Import-Module $context.Manifest
    Invoke-ImportRoundTrip "parallel-$_" $using:session
}
Write-Result @{
    Runs          = @($runs)
    TokenRequests = $session.TokenRequests
}
'@
        $result.Runs.Count | Should -Be 2
        foreach ($run in $result.Runs) {
            $run.Statuses | Should -Be 'Processed', 'ProcessedWithErrors'
            $run.Errors | Should -Be 'first', 'second'
        }
        $result.TokenRequests | Should -Be 1 -Because 'both runspaces use the one session and its token'
    }
}

Describe 'A damaged module' {
    BeforeEach {
        $script:copy = Join-Path $work ('module-' + [guid]::NewGuid().ToString('N'))
        Copy-Item -Recurse -LiteralPath (Split-Path $manifest) -Destination $copy
    }

    It 'fails Import-Module naming a missing file under Dependencies/ and saying to reinstall' {
        $missing = Join-Path $copy 'Dependencies/Microsoft.Identity.Client.dll'
        Remove-Item -LiteralPath $missing
        $output = & $powershell -NoProfile -NonInteractive -Command "try { Import-Module '$copy/RecurringIntegrations.psd1' -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }"
        $output[0] | Should -BeLike 'ModuleFileMissing,*'
        $output[1] | Should -BeLike "*$missing*Reinstall the module*"
    }

    It 'fails Import-Module naming a damaged Core' {
        $damaged = Join-Path $copy 'Dependencies/RecurringIntegrations.Core.dll'
        Set-Content -LiteralPath $damaged -Value 'not an assembly'
        $output = & $powershell -NoProfile -NonInteractive -Command "try { Import-Module '$copy/RecurringIntegrations.psd1' -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }"
        $output[0] | Should -BeLike 'ModuleFileDamaged,*'
        $output[1] | Should -BeLike "*$damaged*Reinstall the module*"
    }

    It 'fails Connect-D365 naming a damaged MSAL, which loads only at the first sign-in' {
        $damaged = Join-Path $copy 'Dependencies/Microsoft.Identity.Client.dll'
        Set-Content -LiteralPath $damaged -Value 'not an assembly'
        $result = Invoke-Case 'damaged-msal' @"
Import-Module '$copy/RecurringIntegrations.psd1'
try { Connect-WithSecret; Write-Result @{ Connected = `$true } }
catch { Write-Result @{ ErrorId = `$_.FullyQualifiedErrorId; Category = `$_.CategoryInfo.Category.ToString(); Message = `$_.Exception.Message } }
"@
        $result.ErrorId | Should -BeLike 'ModuleFileDamaged,*'
        $result.Category | Should -Be 'InvalidData'
        $result.Message | Should -BeLike "*$damaged*Reinstall the module*"
    }
}
