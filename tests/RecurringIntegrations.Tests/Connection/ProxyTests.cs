using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Connection;

/// <summary>
/// Core against the emulator through a real authenticating proxy over sockets. The environment and the storage host have
/// names that resolve nowhere, so the proxy, which sends every tunnel to the emulator, is their only route.
/// </summary>
public sealed class ProxyTests : IAsyncLifetime
{
    private const string ProxyUser = "proxyuser";
    private const string ProxyPassword = "Pr0xy-S3cret";
    private D365Emulator _emulator = null!;
    private ConnectProxy _proxy = null!;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "ri-tests", Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        _emulator = await D365Emulator.StartAsync(new EmulatorOptions { ProcessingDelay = TimeSpan.FromMilliseconds(50), BlobHost = "storage.proxied.test" });
        _proxy = new ConnectProxy((_, _) => new IPEndPoint(IPAddress.Loopback, _emulator.BaseUri.Port), ProxyUser, ProxyPassword);
        Directory.CreateDirectory(_folder);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _emulator.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private ConnectionOptions Options(Uri? proxy, NetworkCredential? credential, Dictionary<string, string>? variables = null, D365Credential? signIn = null)
    {
        var options = Emulated.Options(_emulator);
        var proxied = new ConnectionOptions("https://d365.proxied.test", signIn ?? options.Credential)
        {
            AuthorityHost = new Uri("https://d365.proxied.test"),
            TrustedServerCertificate = _emulator.ServerCertificate,
            Retry = Emulated.FastRetry(),
            Proxy = proxy,
            ProxyCredential = credential,
            ReadVariable = name => variables != null && variables.TryGetValue(name, out var value) ? value : null,
        };
        return proxied;
    }

    [Fact]
    public async Task With_the_proxys_credentials_the_token_an_enqueue_and_a_package_upload_go_through_it()
    {
        using var session = await D365Session.ConnectAsync(Options(_proxy.Address, new NetworkCredential(ProxyUser, ProxyPassword)), CancellationToken.None);
        Assert.Equal(1, session.TokenRequests);
        Assert.Equal(_proxy.Address.ToString().TrimEnd('/'), session.Proxy);

        var file = Path.Combine(_folder, "groups.csv");
        File.WriteAllText(file, "CUSTGROUP\r\n10\r\n");
        var client = new D365Client(session, null);
        var messageId = await client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", null, null, CancellationToken.None);
        Assert.False(string.IsNullOrEmpty(await client.GetMessageStatusAsync(messageId, CancellationToken.None)));

        var package = DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(file) { EntityName = "Customer groups", SourceFormat = "CSV-Unicode" } },
            Path.Combine(_folder, "groups.zip"))).FullName;
        var jobs = new PackageJobs(new DataPackageClient(session, null)) { PollInterval = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(20) };
        var started = await jobs.ImportAsync(new PackageImportRequest(package, WellKnown.DefinitionGroup, "usmf"), null, CancellationToken.None);
        var done = await jobs.WaitAsync(started, CancellationToken.None);
        Assert.Equal("Succeeded", done.Status);

        // The token, the API and the storage calls each went through the proxy, and it asked each new connection to sign in.
        Assert.Contains("d365.proxied.test:443", _proxy.Tunnels);
        Assert.Contains("storage.proxied.test:443", _proxy.Tunnels);
        Assert.Contains(_emulator.State.Requests, r => r.Host.StartsWith("storage.proxied.test", StringComparison.Ordinal) && r.Method == "PUT");
        Assert.True(_proxy.Refused >= 1);
    }

    [Fact]
    public async Task The_user_name_and_password_in_HTTPS_PROXY_are_used()
    {
        var variables = new Dictionary<string, string> { ["HTTPS_PROXY"] = $"http://{ProxyUser}:{Uri.EscapeDataString(ProxyPassword)}@127.0.0.1:{_proxy.Address.Port}" };
        using var session = await D365Session.ConnectAsync(Options(null, null, variables), CancellationToken.None);
        Assert.Equal($"{_proxy.Address.ToString().TrimEnd('/')} (from HTTPS_PROXY)", session.Proxy);
        Assert.Null(await new D365Client(session, null).DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));
        Assert.Contains("d365.proxied.test:443", _proxy.Tunnels);
    }

    [Theory]
    [InlineData(null, "no credentials were given")]
    [InlineData("wrong-password", "it refused the credentials given")]
    public async Task Without_the_right_credentials_the_sign_in_fails_with_the_proxys_error(string? password, string said)
    {
        var credential = password is null ? null : new NetworkCredential(ProxyUser, password);
        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Options(_proxy.Address, credential), CancellationToken.None));
        Assert.Equal("ProxyAuthenticationRequired", error.ErrorId);
        Assert.Equal(D365ErrorCategory.AuthenticationError, error.Category);
        Assert.Contains(_proxy.Address.ToString().TrimEnd('/'), error.Message);
        Assert.Contains("d365.proxied.test", error.Message);
        Assert.Contains(said, error.Message);
        Assert.Contains("-ProxyCredential", error.RecommendedAction);
        Assert.DoesNotContain("wrong-password", error.ToString());
        Assert.Empty(_proxy.Tunnels);
        Assert.Empty(_emulator.State.Requests);
    }

    [Fact]
    public async Task An_API_call_refused_by_the_proxy_gets_the_proxys_error_once_and_is_not_sent_again()
    {
        // A token the caller holds: no sign-in call, so the first call through the proxy is the upload.
        var token = new AccessTokenCredential(Emulated.Secure(_emulator.IssueToken("https://d365.proxied.test")));
        using var session = await D365Session.ConnectAsync(Options(_proxy.Address, null, signIn: token), CancellationToken.None);
        var file = Path.Combine(_folder, "groups.csv");
        File.WriteAllText(file, "CUSTGROUP\r\n10\r\n");

        var error = await Assert.ThrowsAsync<D365Exception>(() => new D365Client(session, null).EnqueueAsync(WellKnown.ImportActivity, file, null, null, null, CancellationToken.None));

        Assert.Equal("ProxyAuthenticationRequired", error.ErrorId);
        Assert.Equal(1, _proxy.Refused);
        Assert.Empty(_emulator.State.Requests);
        Assert.True(File.Exists(file));
    }

    [Fact]
    public async Task A_proxy_that_cannot_be_reached_gets_its_own_error()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Options(new Uri($"http://127.0.0.1:{port}"), null), CancellationToken.None));
        Assert.Equal("ProxyUnreachable", error.ErrorId);
        Assert.Contains($"http://127.0.0.1:{port}", error.Message);
        Assert.Contains("-Proxy", error.RecommendedAction);
    }
}
