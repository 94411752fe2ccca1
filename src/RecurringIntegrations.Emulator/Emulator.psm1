<#
    Start and stop the standalone D365 emulator from PowerShell (the demo, the Pester suite, your own tries).
    Import-Module ./src/RecurringIntegrations.Emulator/Emulator.psm1
    $emulator = Start-D365Emulator
    $connect = $emulator.ConnectParameters
    Connect-D365 @connect
    Stop-D365Emulator $emulator
#>
Set-StrictMode -Version Latest

# Start-Process joins its arguments with spaces: each one is quoted so that paths with spaces survive, and a
# trailing backslash is doubled so that it does not escape the closing quote.
function ConvertTo-ProcessArgument([string] $Value) {
    '"' + ($Value -replace '(\\+)$', '$1$1') + '"'
}

function Start-D365Emulator {
    <#
    .SYNOPSIS
        Starts the built emulator on a free loopback port and returns once it is listening.
    .DESCRIPTION
        Runs bin/<Configuration>/net10.0/RecurringIntegrations.Emulator.dll with dotnet (building it first when it is
        missing), or with -Command the installed tool (dotnet tool install ... RecurringIntegrations.Emulator), with
        --port 0 and --ready-file, plus -ArgumentList. The emulator process itself is started (not
        'dotnet run', whose child would outlive a stopped parent), so Stop-D365Emulator really stops it.
        Returns an object with Process, Ready (the ready file's data: environment, authorityHost, tenantId, clientId,
        clientSecret, importActivity, exportActivity, managedIdentityEndpoint, managedIdentityHeader, basePath), WorkFolder
        (ready file and logs) and ConnectParameters (a hashtable to splat into Connect-D365; with '--on-premises' the
        environment under its path and the AD FS authority host, without a tenant).
    .PARAMETER ArgumentList
        More emulator options, for example '--export-folder', $folder, '--scenario', './throttled.json'
        (d365-emulator --help lists them).
    .PARAMETER Command
        The installed .NET tool to run instead of the build output: 'd365-emulator' when it is on PATH, or its full path.
    .EXAMPLE
        $emulator = Start-D365Emulator -ArgumentList '--export-folder', './exports'
    #>
    [CmdletBinding()]
    param(
        [string[]] $ArgumentList = @(),
        [string] $Command,
        [ValidateSet('Debug', 'Release')]
        [string] $Configuration = 'Debug',
        [ValidateRange(1, 3600)]
        [int] $TimeoutSeconds = 120
    )
    $ErrorActionPreference = 'Stop'
    $assembly = Join-Path $PSScriptRoot "bin/$Configuration/net10.0/RecurringIntegrations.Emulator.dll"
    if (-not $Command -and -not (Test-Path -LiteralPath $assembly)) {
        Write-Verbose "Building the emulator ($Configuration)"
        dotnet build $PSScriptRoot -c $Configuration --nologo -v quiet | Write-Verbose
        if ($LASTEXITCODE -ne 0) { throw "Building the emulator failed (exit code $LASTEXITCODE)." }
    }

    $work = Join-Path ([IO.Path]::GetTempPath()) ('d365-emulator-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null
    $readyFile = Join-Path $work 'ready.json'
    $errorLog = Join-Path $work 'emulator.err'
    $fileName = 'dotnet'
    $arguments = @($assembly)
    if ($Command) {
        $fileName = (Get-Command $Command -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
        $arguments = @()
    }
    $arguments += '--port', '0', '--ready-file', $readyFile
    # Blobs go with the work folder, unless they are to be kept (--data-folder) or go elsewhere (--blob-folder).
    if ($ArgumentList -notcontains '--data-folder' -and $ArgumentList -notcontains '--blob-folder') {
        $arguments += '--blob-folder', (Join-Path $work 'blobs')
    }
    $arguments = $arguments + $ArgumentList |
        ForEach-Object { ConvertTo-ProcessArgument $_ }
    # -NoNewWindow: on Windows the emulator shares the console, so Ctrl+C reaches it too.
    $process = Start-Process -FilePath $fileName -ArgumentList $arguments -PassThru -NoNewWindow `
        -RedirectStandardOutput (Join-Path $work 'emulator.out') -RedirectStandardError $errorLog
    try {
        $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
        while (-not (Test-Path -LiteralPath $readyFile)) {
            if ($process.HasExited) {
                throw "The emulator exited before it was ready: $(Get-Content -LiteralPath $errorLog -Raw)"
            }
            if ((Get-Date) -gt $deadline) { throw "The emulator was not ready within $TimeoutSeconds seconds." }
            Start-Sleep -Milliseconds 200
        }
    }
    catch {
        if (-not $process.HasExited) { Stop-Process -Id $process.Id -Force -ErrorAction SilentlyContinue }
        Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
        throw
    }
    $ready = Get-Content -LiteralPath $readyFile -Raw | ConvertFrom-Json
    $connect = @{
        Environment          = $ready.environment
        AuthorityHost        = $ready.authorityHost
        TenantId             = $ready.tenantId
        ClientId             = $ready.clientId
        ClientSecret         = ConvertTo-SecureString $ready.clientSecret -AsPlainText -Force
        # The emulator's certificate is self-signed; never use this switch against a real environment.
        SkipCertificateCheck = $true
    }
    # On-premises (--on-premises): the environment has a path and the authority host is AD FS, which has no tenant.
    if ($ready.PSObject.Properties['basePath'] -and $ready.basePath) { $connect.Remove('TenantId') }
    [pscustomobject]@{
        PSTypeName        = 'RecurringIntegrations.Emulator'
        Process           = $process
        Ready             = $ready
        WorkFolder        = $work
        ConnectParameters = $connect
    }
}

function Stop-D365Emulator {
    <#
    .SYNOPSIS
        Stops an emulator started by Start-D365Emulator and removes its work folder. Safe to call twice.
    .EXAMPLE
        try { $emulator = Start-D365Emulator; ... } finally { if ($emulator) { Stop-D365Emulator $emulator } }
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)]
        [psobject] $Emulator
    )
    process {
        if (-not $Emulator.Process.HasExited) {
            Stop-Process -Id $Emulator.Process.Id -Force -ErrorAction SilentlyContinue
            # Its log files stay open until it is gone, and Windows will not delete open files.
            $Emulator.Process.WaitForExit(10000) | Out-Null
        }
        Remove-Item -LiteralPath $Emulator.WorkFolder -Recurse -Force -ErrorAction SilentlyContinue
    }
}

Export-ModuleMember -Function Start-D365Emulator, Stop-D365Emulator
