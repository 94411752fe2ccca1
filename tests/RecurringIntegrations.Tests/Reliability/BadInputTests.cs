using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core;
using RecurringIntegrations.Core.Files;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using RecurringIntegrations.Tests.Core;
using Xunit;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Reliability;

/// <summary>
/// The rows of docs/errors.md that Core decides: each bad input gets its stable ErrorId, its category and advice, and
/// loses nothing. (Rows decided by PowerShell's parameter binding are in tests/Pester/BadInput.Tests.ps1.)
/// </summary>
public class BadInputTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static async Task<D365Exception> FailsAsync(Func<Task> call, string errorId, D365ErrorCategory category)
    {
        var error = await Assert.ThrowsAsync<D365Exception>(call);
        Assert.Equal(errorId, error.ErrorId);
        Assert.Equal(category, error.Category);
        Assert.False(string.IsNullOrWhiteSpace(error.RecommendedAction), "every error says what to do");
        return error;
    }

    private static D365Exception Fails(Action call, string errorId, D365ErrorCategory category) =>
        FailsAsync(() => { call(); return Task.CompletedTask; }, errorId, category).GetAwaiter().GetResult();

    // Files to upload

    [Fact]
    public async Task Row01_missing_file()
    {
        await using var env = await Emulated.StartAsync();
        await FailsAsync(() => env.Client.EnqueueAsync(WellKnown.ImportActivity, Path.Combine(env.Folder, "nope.xml"), "E", null, null, None), "EnqueueFileNotFound", D365ErrorCategory.ObjectNotFound);
        Assert.DoesNotContain(env.Emulator.State.Requests, r => r.PathAndQuery.StartsWith("/api/"));
    }

    [Fact]
    public void Row02_empty_path() => Fails(() => FileChecks.ReadableFileLength(""), "EnqueuePathEmpty", D365ErrorCategory.InvalidArgument);

    [Fact]
    public void Row03_empty_file()
    {
        var file = Path.GetTempFileName();
        Fails(() => FileChecks.ReadableFileLength(file), "EnqueueFileEmpty", D365ErrorCategory.InvalidData);
        Assert.True(File.Exists(file));
    }

    [Fact]
    public void Row04_folder_instead_of_file() =>
        Fails(() => FileChecks.ReadableFileLength(Path.GetTempPath()), "EnqueuePathIsDirectory", D365ErrorCategory.InvalidArgument);

    [Fact]
    public void Row05_file_locked_by_another_writer()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, "<a/>");
        using (new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
            Fails(() => FileChecks.ReadableFileLength(file), "EnqueueFileLocked", D365ErrorCategory.ResourceUnavailable);
        Assert.Equal("<a/>", File.ReadAllText(file));
    }

    [Fact]
    public async Task Row06_one_bad_file_in_a_batch_does_not_stop_the_others()
    {
        await using var env = await Emulated.StartAsync();
        var files = new[] { env.WriteFile("1.xml", "<a/>"), Path.Combine(env.Folder, "missing.xml"), env.WriteFile("3.xml", "<c/>") };
        var recorder = new Recorder<EnqueuedMessage>();
        await new EnqueueBatch(env.Session, env.Client, WellKnown.ImportActivity).RunAsync(files.Select(f => new EnqueueRequest(f)).ToList(), recorder.Callbacks(), None);
        Assert.Equal(2, recorder.Results.Count);
        var (target, error) = Assert.Single(recorder.Errors);
        Assert.Equal(files[1], target);
        Assert.Equal("EnqueueFileNotFound", error.ErrorId);
    }

    // Activity ids

    [Fact]
    public async Task Row07_unknown_activity_id()
    {
        await using var env = await Emulated.StartAsync();
        var file = env.WriteFile("a.xml", "<a/>");
        var error = await FailsAsync(() => env.Client.EnqueueAsync(Guid.NewGuid(), file, "E", null, null, None), "RequestRejected", D365ErrorCategory.InvalidArgument);
        Assert.NotNull(error.ServiceMessage);
        Assert.True(File.Exists(file));
    }

    [Fact]
    public async Task Row08_export_activity_used_for_an_import()
    {
        await using var env = await Emulated.StartAsync();
        await FailsAsync(() => env.Client.EnqueueAsync(WellKnown.ExportActivity, env.WriteFile("a.xml", "<a/>"), "E", null, null, None), "RequestRejected", D365ErrorCategory.InvalidArgument);
        Assert.Empty(env.Emulator.State.Enqueued);
    }

    [Fact]
    public async Task Row09_import_activity_used_for_an_export() 
    {
        await using var env = await Emulated.StartAsync();
        await FailsAsync(() => env.Client.DequeueAsync(WellKnown.ImportActivity, None), "RequestRejected", D365ErrorCategory.InvalidArgument);
    }

    // Environments and sign-in

    [Fact]
    public void Row10_empty_environment() => Fails(() => EnvironmentAddress.Normalize(" "), "EnvironmentMissing", D365ErrorCategory.InvalidArgument);

    [Fact]
    public void Row11_environment_that_is_not_a_url() => Fails(() => EnvironmentAddress.Normalize("ftp://contoso"), "EnvironmentInvalid", D365ErrorCategory.InvalidArgument);

    [Fact]
    public void Row12_http_environment_off_loopback() => Fails(() => EnvironmentAddress.Normalize("http://contoso.operations.dynamics.com"), "EnvironmentNotHttps", D365ErrorCategory.SecurityError);

    [Fact]
    public async Task Row13_http_authority_host()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var options = Emulated.Options(emulator);
        options.AuthorityHost = new Uri("http://login.example.com");
        await FailsAsync(() => D365Session.ConnectAsync(options, None), "AuthorityHostInvalid", D365ErrorCategory.InvalidArgument);
    }

    [Theory]
    [InlineData("wrong-tenant", null, null, "tenant was not found")]
    [InlineData(null, "99999999-9999-9999-9999-999999999999", null, "No app with this client id")]
    [InlineData(null, null, "wrong-secret", "secret is wrong or expired")]
    public async Task Row14_to_16_wrong_tenant_client_or_secret(string? tenant, string? clientId, string? secret, string advice)
    {
        await using var emulator = await D365Emulator.StartAsync();
        var credential = new ClientSecretCredential(tenant ?? emulator.Options.TenantId, clientId ?? emulator.Options.ClientId, Emulated.Secure(secret ?? emulator.Options.ClientSecret));
        var error = await FailsAsync(() => D365Session.ConnectAsync(Emulated.Options(emulator, credential), None), "TokenRequestFailed", D365ErrorCategory.AuthenticationError);
        Assert.Contains(advice, error.Message);
    }

    [Fact]
    public void Row17_certificate_without_private_key()
    {
        using var withKey = AuthenticationTests.CreateClientCertificate();
        using var publicOnly = X509CertificateLoader.LoadCertificate(withKey.Export(X509ContentType.Cert));
        Fails(() => new ClientCertificateCredential("t", "c", publicOnly), "CertificateWithoutPrivateKey", D365ErrorCategory.InvalidArgument);
    }

    [Fact]
    public void Row18_certificate_thumbprint_not_in_any_store() =>
        Fails(() => ClientCertificateCredential.FindByThumbprint("00112233445566778899AABBCCDDEEFF00112233"), "CertificateNotFound", D365ErrorCategory.ObjectNotFound);

    [Fact]
    public async Task Row19_expired_access_token()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var expired = new AccessTokenCredential(Emulated.Secure(emulator.IssueToken(emulator.Environment, TimeSpan.FromMinutes(-1))));
        await FailsAsync(() => D365Session.ConnectAsync(Emulated.Options(emulator, expired), None), "AccessTokenExpired", D365ErrorCategory.AuthenticationError);
    }

    [Fact]
    public async Task Row20_token_for_another_audience()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var other = new AccessTokenCredential(Emulated.Secure(emulator.IssueToken("https://other.operations.dynamics.com")));
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, other), None);
        await FailsAsync(() => new D365Client(session).DequeueAsync(WellKnown.ExportActivity, None), "Unauthorized", D365ErrorCategory.AuthenticationError);
    }

    [Fact]
    public void Row21_empty_secret() => Fails(() => new ClientSecretCredential("t", "c", new System.Security.SecureString()), "ClientSecretMissing", D365ErrorCategory.InvalidArgument);

    [Fact]
    public async Task Row22_unreachable_authority_host()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var options = Emulated.Options(emulator);
        options.AuthorityHost = new Uri("https://127.0.0.1:1");
        var error = await FailsAsync(() => D365Session.ConnectAsync(options, None), "TokenEndpointUnreachable", D365ErrorCategory.ConnectionError);
        Assert.Contains("reach the authority host", error.Message);
    }

    // What the service answers

    [Fact]
    public async Task Row23_unreachable_environment()
    {
        var emulator = await D365Emulator.StartAsync();
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, new AccessTokenCredential(Emulated.Secure(emulator.IssueToken(emulator.Environment)))), None);
        await emulator.DisposeAsync();
        await FailsAsync(() => new D365Client(session).DequeueAsync(WellKnown.ExportActivity, None), "ConnectionFailed", D365ErrorCategory.ConnectionError);
    }

    [Fact]
    public async Task Row24_host_answering_a_web_page()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.HtmlPage });
        await FailsAsync(() => env.Client.DequeueAsync(WellKnown.ExportActivity, None), "UnexpectedWebPage", D365ErrorCategory.InvalidData);
    }

    [Fact]
    public async Task Row25_malformed_json()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "GetExecutionErrors", Kind = FaultKind.MalformedJson });
        await FailsAsync(() => env.Client.GetExecutionErrorsAsync("x", None), "MalformedResponse", D365ErrorCategory.InvalidData);
    }

    [Fact]
    public async Task Row26_file_too_large_for_the_service()
    {
        await using var env = await Emulated.StartAsync(o => o.MaxEnqueueBytes = 100);
        var file = env.WriteFile("big.xml", new string('x', 1000));
        await FailsAsync(() => env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "E", null, null, None), "PayloadTooLarge", D365ErrorCategory.LimitsExceeded);
        Assert.True(File.Exists(file));
    }

    [Fact]
    public async Task Row27_redirect_from_an_on_premises_environment()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.Status, StatusCode = 302 });
        var error = await FailsAsync(() => env.Client.DequeueAsync(WellKnown.ExportActivity, None), "UnexpectedRedirect", D365ErrorCategory.InvalidOperation);
        Assert.Contains("https://ax.contoso.com/namespaces/AXSF", error.Message);
    }

    [Fact]
    public void Row28_unknown_status_string_is_kept_and_is_not_final()
    {
        Assert.False(MessageStatus.IsTerminalStatus("Downloaded"));
        Assert.False(MessageStatus.IsTerminalStatus("SomethingNew"));
        Assert.True(MessageStatus.IsTerminalStatus("postprocessingerror"));
    }

    [Fact]
    public async Task Row29_execution_errors_asked_before_processing_started()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromSeconds(30));
        var id = await env.Client.EnqueueAsync(WellKnown.ImportActivity, env.WriteFile("a.xml", "<a/>"), "E", null, null, None);
        await FailsAsync(() => MessageQueries.ExecutionErrorsOfMessageAsync(env.Client, id, None), "ExecutionNotStarted", D365ErrorCategory.ResourceUnavailable);
    }

    [Fact]
    public async Task Row30_download_location_on_another_host()
    {
        await using var env = await Emulated.StartAsync(o => o.DownloadHost = "files.example.com");
        env.Emulator.AddExportMessage(WellKnown.ExportActivity, "a.xml", "<a/>"u8.ToArray());
        var message = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        await FailsAsync(() => env.Client.DownloadAsync(message!, env.Folder, false, None), "DownloadLocationForeignHost", D365ErrorCategory.SecurityError);
    }

    // Acknowledgements

    [Fact]
    public async Task Row31_ack_with_a_superseded_pop_receipt()
    {
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var env = await Emulated.StartAsync(o => { o.RedeliveryTimeout = TimeSpan.FromMilliseconds(200); o.Time = serviceClock; });
        env.Emulator.AddExportMessage(WellKnown.ExportActivity, "a.xml", "<a/>"u8.ToArray());
        var first = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        serviceClock.Advance(TimeSpan.FromMilliseconds(300));
        await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        await FailsAsync(() => env.Client.AcknowledgeAsync(WellKnown.ExportActivity, first!.RawJson, None), "RequestRejected", D365ErrorCategory.InvalidArgument);
        Assert.Equal(1, env.Emulator.State.PendingExports(WellKnown.ExportActivity));
    }

    [Fact]
    public void Row32_ack_of_a_message_without_pop_receipt_or_dequeue_answer() =>
        Fails(() => MessageQueries.AckBody(Guid.NewGuid(), null, null, null), "AckPopReceiptMissing", D365ErrorCategory.InvalidArgument);

    [Fact]
    public async Task Row33_session_used_after_Disconnect()
    {
        await using var env = await Emulated.StartAsync();
        env.Session.Dispose();
        Fails(() => new D365Client(env.Session), "SessionClosed", D365ErrorCategory.InvalidOperation);
    }

    // Output folders

    [Fact]
    public void Row34_output_path_is_a_file() =>
        Fails(() => FileChecks.PrepareOutputDirectory(Path.GetTempFileName()), "OutputPathIsFile", D365ErrorCategory.InvalidArgument);

    [Fact]
    public async Task Row35_output_folder_that_refuses_writes()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.AddExportMessage(WellKnown.ExportActivity, "a.xml", "<a/>"u8.ToArray());
        var readOnly = OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.System) : "/proc/self";
        var recorder = new Recorder<DequeuedMessage>();
        await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = readOnly, Acknowledge = true }.RunAsync(recorder.Callbacks(), None);
        Assert.Empty(recorder.Results);
        Assert.Contains(recorder.Errors, e => e.Error.ErrorId is "OutputPathAccessDenied" or "DownloadWriteFailed");
        Assert.Empty(env.Emulator.State.Acknowledged);
    }

    [Fact]
    public async Task Row36_disk_full_while_saving()
    {
        Assert.True(OperatingSystem.IsLinux(), "the disk-full row is exercised on Linux, where a small tmpfs plays the full disk");
        var mountPoint = Directory.CreateTempSubdirectory("ri-full-").FullName;
        Assert.Equal(0, Run("mount", $"-t tmpfs -o size=64k tmpfs {mountPoint}"));
        try
        {
            await using var env = await Emulated.StartAsync();
            env.Emulator.AddExportMessage(WellKnown.ExportActivity, "big.bin", new byte[512 * 1024]);
            var recorder = new Recorder<DequeuedMessage>();
            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = mountPoint, Acknowledge = true }.RunAsync(recorder.Callbacks(), None);

            Assert.Empty(recorder.Results);
            var (_, error) = Assert.Single(recorder.Errors);
            Assert.Equal("DiskFull", error.ErrorId);
            Assert.Equal(D365ErrorCategory.WriteError, error.Category);
            Assert.Empty(Directory.GetFiles(mountPoint));
            Assert.Empty(env.Emulator.State.Acknowledged);
            Assert.Equal(1, env.Emulator.State.PendingExports(WellKnown.ExportActivity));
        }
        finally
        {
            Run("umount", mountPoint);
        }
    }

    [Fact]
    public async Task Row37_name_collision_in_the_output_folder()
    {
        await using var env = await Emulated.StartAsync();
        var existing = Path.Combine(env.Folder, "report.xml");
        File.WriteAllText(existing, "mine");
        var message = await QueueOneAsync(env, "<theirs/>", "report.xml");
        var saved = await env.Client.DownloadAsync(message, env.Folder, overwrite: false, None);
        Assert.Equal("mine", File.ReadAllText(existing));
        Assert.NotEqual(existing, saved.Path);
    }

    private static async Task<DequeueResult> QueueOneAsync(Emulated env, string content, string name)
    {
        env.Emulator.AddExportMessage(WellKnown.ExportActivity, name, System.Text.Encoding.UTF8.GetBytes(content));
        return (await env.Client.DequeueAsync(WellKnown.ExportActivity, None))!;
    }

    private static int Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true })!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
