using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Core;

/// <summary>
/// An on-premises environment (the emulator's on-premises mode): the API under /namespaces/AXSF, AD FS sign-in for the
/// environment's host. A call that lost the path would get the 302 the environment answers and fail.
/// </summary>
public sealed class OnPremisesTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static Task<D365Emulator> StartAsync() => D365Emulator.StartAsync(new EmulatorOptions
    {
        BasePath = EmulatorOptions.OnPremisesPath,
        ProcessingDelay = TimeSpan.FromMilliseconds(50),
        DataEntitiesPageSize = 5,
    });

    /// <summary>AD FS: a client secret, no tenant.</summary>
    private static ConnectionOptions AdfsOptions(D365Emulator emulator, string environment) =>
        new(environment, new ClientSecretCredential(null, emulator.Options.ClientId, Emulated.Secure(emulator.Options.ClientSecret)))
        {
            AuthorityHost = emulator.AuthorityHost,
            TrustedServerCertificate = emulator.ServerCertificate,
            Retry = Emulated.FastRetry(),
        };

    [Fact]
    public async Task Every_call_kind_keeps_the_path_and_the_token_is_for_the_host()
    {
        await using var emulator = await StartAsync();
        Assert.EndsWith("/namespaces/AXSF", emulator.Environment);
        Assert.EndsWith("/adfs", emulator.AuthorityHost.AbsolutePath);
        var folder = Path.Combine(Path.GetTempPath(), "ri-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            // Given with a trailing slash, as the on-premises setup writes the URL.
            using var session = await D365Session.ConnectAsync(AdfsOptions(emulator, emulator.Environment + "/"), None);
            Assert.Equal(emulator.Environment, session.Environment);
            var client = new D365Client(session);

            // Connector and OData actions: enqueue, status, execution id, execution errors.
            var file = Path.Combine(folder, "groups.csv");
            File.WriteAllText(file, "CUSTGROUP\r\nEMULATOR-ERROR: Group too long\r\n");
            var messageId = await client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", "USMF", "groups.csv", None);
            Assert.Equal("ProcessedWithErrors", await ConnectorTests.WaitForTerminalAsync(client, messageId));
            var executionId = await client.GetExecutionIdAsync(messageId, None);
            Assert.Contains(await client.GetExecutionErrorsAsync(executionId!, None), e => e.ErrorMessage == "Group too long");

            // Dequeue, download from the DownloadLocation under the path, ack.
            emulator.AddExportMessage(WellKnown.ExportActivity, "export.xml", Encoding.UTF8.GetBytes("<Export/>"));
            var message = await client.DequeueAsync(WellKnown.ExportActivity, None);
            Assert.StartsWith(emulator.Environment + "/api/connector/download/", message!.DownloadLocation);
            var saved = await client.DownloadAsync(message, Path.Combine(folder, "out"), false, None);
            Assert.Equal("<Export/>", File.ReadAllText(saved.Path));
            await client.AcknowledgeAsync(WellKnown.ExportActivity, message.RawJson, None);
            Assert.Null(await client.DequeueAsync(WellKnown.ExportActivity, None));

            // Metadata, over several pages (@odata.nextLink), and the entity list's refresh.
            var metadata = new MetadataClient(session);
            Assert.Equal(WellKnown.DataEntities.Count, (await metadata.GetDataEntitiesAsync(None)).Count);
            Assert.True((await metadata.InitializeDataManagementAsync(null, None)).Completed);

            // The package API: import (write URL, upload to storage, import, status) and export (package URL, download).
            var jobs = new PackageJobs(new DataPackageClient(session)) { PollInterval = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(20) };
            var package = DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(file) { EntityName = "Customer groups", SourceFormat = "CSV-Unicode" } },
                Path.Combine(folder, "groups.zip"))).FullName;
            var imported = await jobs.WaitAsync(await jobs.ImportAsync(new PackageImportRequest(package, "Groups project", "usmf"), null, None), None);
            Assert.True(imported.IsTerminal);
            Assert.StartsWith(emulator.Environment + "/?mi=DMFExecutionSummary", imported.SummaryPageUrl);
            var exported = await jobs.ExportAsync(new PackageExportRequest(WellKnown.DefinitionGroup, "usmf", Path.Combine(folder, "exports")), None);
            Assert.Equal("Succeeded", exported.Status);

            var environmentCalls = emulator.State.Requests.Where(r => !string.Equals(r.Host.Split(':')[0], emulator.Options.BlobHost, StringComparison.OrdinalIgnoreCase)).ToList();
            Assert.Equal(new[] { "/adfs/oauth2/token" }, environmentCalls.Where(r => !r.PathAndQuery.StartsWith("/namespaces/AXSF/")).Select(r => r.PathAndQuery).Distinct());
            foreach (var kind in new[] { "/api/connector/enqueue/", "/api/connector/dequeue/", "/api/connector/download/", "/api/connector/ack/",
                         ".GetMessageStatus", ".GetExecutionIdByMessageId", ".GetExecutionErrors", "/Metadata/DataEntities?$skiptoken=", ".InitializeDataManagement",
                         ".GetAzureWriteUrl", ".ImportFromPackageAsync", ".GetExecutionSummaryStatus", ".ExportToPackageAsync", ".GetExportedPackageUrl" })
                Assert.Contains(environmentCalls, r => r.PathAndQuery.StartsWith("/namespaces/AXSF/") && r.PathAndQuery.Contains(kind));
            Assert.DoesNotContain(emulator.State.Requests, r => r.StatusCode is 302 or 401);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public async Task The_environment_without_its_path_gets_UnexpectedRedirect_naming_the_whole_url_and_the_redirect_is_not_followed()
    {
        await using var emulator = await StartAsync();
        using var session = await D365Session.ConnectAsync(AdfsOptions(emulator, emulator.Audience), None);

        var error = await Assert.ThrowsAsync<D365Exception>(() => new D365Client(session).DequeueAsync(WellKnown.ExportActivity, None));

        Assert.Equal("UnexpectedRedirect", error.ErrorId);
        Assert.Contains($"'{emulator.Environment}/api/connector/dequeue/{WellKnown.ExportActivity}'", error.Message);
        Assert.Contains("https://ax.contoso.com/namespaces/AXSF", error.Message);
        Assert.Single(emulator.State.Requests, r => r.PathAndQuery.Contains("/api/connector/dequeue/"));
    }
}
