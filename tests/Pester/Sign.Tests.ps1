#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# './build.ps1 -Task Sign' with a throwaway self-signed code-signing certificate, on a copy of the built module in a
# scratch tree (signing the real out/ would change the module under the other suites); every signature is then checked
# with osslsigncode verify, which trusts only that certificate.

BeforeAll {
    $script:repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:powershell = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    $script:tree = Join-Path ([IO.Path]::GetTempPath()) ('ri-sign-' + [guid]::NewGuid().ToString('N'))
    $script:module = Join-Path $tree 'out/RecurringIntegrations'
    New-Item -ItemType Directory -Path (Join-Path $tree 'out') | Out-Null
    Copy-Item (Join-Path $repositoryRoot 'build.ps1') $tree
    Copy-Item (Join-Path $repositoryRoot 'out/RecurringIntegrations') (Join-Path $tree 'out') -Recurse

    # A code-signing certificate (extended key usage 1.3.6.1.5.5.7.3.3) that lives for this test only.
    $rsa = [Security.Cryptography.RSA]::Create(2048)
    $request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=RecurringIntegrations test publisher', $rsa,
        [Security.Cryptography.HashAlgorithmName]::SHA256, [Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $usages = [Security.Cryptography.OidCollection]::new()
    $usages.Add([Security.Cryptography.Oid]::new('1.3.6.1.5.5.7.3.3')) | Out-Null
    $request.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension]::new($usages, $false))
    $request.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509KeyUsageExtension]::new(
            [Security.Cryptography.X509Certificates.X509KeyUsageFlags]::DigitalSignature, $true))
    $certificate = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddMinutes(-5), [DateTimeOffset]::UtcNow.AddDays(1))
    $script:pfx = Join-Path $tree 'codesign.pfx'
    [IO.File]::WriteAllBytes($pfx, $certificate.Export('Pfx', 'test password'))
    $script:trusted = Join-Path $tree 'codesign.pem'
    Set-Content -Path $trusted -Value ("-----BEGIN CERTIFICATE-----`n" +
        [Convert]::ToBase64String($certificate.RawData, 'InsertLineBreaks') + "`n-----END CERTIFICATE-----")

    # What Sign must sign, and a third-party assembly it must leave as it is.
    $script:expected = @('RecurringIntegrations.psd1', 'RecurringIntegrations.Format.ps1xml', 'RecurringIntegrations.PowerShell.dll',
        'RecurringIntegrations.Runtime.psm1', 'Dependencies/RecurringIntegrations.Core.dll', 'Dependencies/RecurringIntegrations.Loader.dll') +
        @(Get-ChildItem (Join-Path $module 'Examples') -Filter *.ps1 | ForEach-Object { "Examples/$($_.Name)" })
    $script:thirdParty = Join-Path $module 'Dependencies/Microsoft.Identity.Client.dll'
    $script:thirdPartyHash = (Get-FileHash $thirdParty).Hash

    function script:Invoke-Sign([string] $Password) {
        $command = "& '$tree/build.ps1' -Task Sign -CertificatePath '$pfx' -CertificatePassword (ConvertTo-SecureString '$Password' -AsPlainText -Force)"
        $output = & $powershell -NoProfile -NonInteractive -Command $command 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output -join "`n") }
    }
    function script:Test-Signature([string] $Path) {
        $output = & osslsigncode verify -CAfile $trusted -in $Path 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output -join "`n") }
    }
}

AfterAll {
    Remove-Item $tree -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'build.ps1 -Task Sign' -Skip:([Environment]::OSVersion.Platform -eq 'Win32NT') {
    It 'fails with the wrong password, naming the file, and signs nothing' {
        $result = Invoke-Sign 'wrong password'
        $result.ExitCode | Should -Not -Be 0
        $result.Output | Should -Match 'osslsigncode could not sign'
        $result.Output | Should -Match 'Wrong password'
        (Test-Signature (Join-Path $module 'RecurringIntegrations.psd1')).ExitCode | Should -Not -Be 0
    }

    It 'signs the scripts, the manifest, the format file and the module''s own assemblies, each verified' {
        $result = Invoke-Sign 'test password'
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -Match "Signed $($expected.Count) files"
        foreach ($file in $expected) {
            $verify = Test-Signature (Join-Path $module $file)
            $verify.ExitCode | Should -Be 0 -Because "$file`n$($verify.Output)"
            $verify.Output | Should -Match 'Signer''s certificate:[\s\S]*CN=RecurringIntegrations test publisher'
            $verify.Output | Should -Match 'Succeeded'
        }
        (Get-FileHash $thirdParty).Hash | Should -Be $thirdPartyHash -Because 'third-party assemblies keep their publishers'' signatures'
    }

    It 'leaves a module that imports, and a signature that no longer verifies once the file changes' {
        $import = & $powershell -NoProfile -NonInteractive -Command "Import-Module '$module/RecurringIntegrations.psd1'; (Get-Command -Module RecurringIntegrations).Count" 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($import -join "`n")
        [int] ($import | Select-Object -Last 1) | Should -Be (Import-PowerShellDataFile (Join-Path $repositoryRoot 'RecurringIntegrations.psd1')).CmdletsToExport.Count
        $script = Join-Path $module 'Examples/Demo.ps1'
        (Get-Content $script -Raw).Replace('Connect-D365', 'Connect-D365 ') | Set-Content $script -NoNewline
        (Test-Signature $script).ExitCode | Should -Not -Be 0
    }
}
