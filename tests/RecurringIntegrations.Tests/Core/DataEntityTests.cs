using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Core;

/// <summary>The data entities' metadata and the entity list refresh, against the emulator over sockets, and their wire shapes.</summary>
public sealed class DataEntityTests
{
    [Fact]
    public async Task The_entity_list_is_read_over_every_page_with_its_names_category_and_read_only_flag()
    {
        await using var env = await Emulated.StartAsync(o => o.DataEntitiesPageSize = 5);
        var entities = await new MetadataClient(env.Session).GetDataEntitiesAsync(CancellationToken.None);

        Assert.Equal(WellKnown.DataEntities.Select(e => e.Name), entities.Select(e => e.Name));
        var groups = Assert.Single(entities, e => e.Name == "CustCustomerGroupEntity");
        Assert.Equal(("CustomerGroup", "CustomerGroups", "Reference", false, true), (groups.PublicEntityName, groups.PublicCollectionName, groups.Category, groups.IsReadOnly, groups.DataManagementEnabled));
        Assert.True(Assert.Single(entities, e => e.Name == "CustInvoiceJourEntity").IsReadOnly);
        Assert.Equal(env.Session.Environment, groups.Environment);
        Assert.Equal((WellKnown.DataEntities.Count + 4) / 5, env.Emulator.State.Requests.Count(r => r.PathAndQuery.StartsWith("/Metadata/DataEntities")));
    }

    [Fact]
    public async Task The_metadata_wire_is_OData_with_a_next_link_on_the_environment()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.DataEntitiesPageSize = 10);
        var first = await harness.Http.GetStringAsync("Metadata/DataEntities");
        using var page = JsonDocument.Parse(first);
        var next = page.RootElement.GetProperty("@odata.nextLink").GetString()!;
        var last = await harness.Http.GetStringAsync(next);
        using var lastPage = JsonDocument.Parse(last);

        Assert.EndsWith("/Metadata/$metadata#DataEntities", page.RootElement.GetProperty("@odata.context").GetString());
        Assert.Equal(10, page.RootElement.GetProperty("value").GetArrayLength());
        Assert.StartsWith(harness.Emulator.Environment + "/Metadata/DataEntities?$skiptoken=10", next);
        var row = page.RootElement.GetProperty("value")[0];
        Assert.Equal(new[] { "Name", "PublicEntityName", "PublicCollectionName", "LabelId", "DataServiceEnabled", "DataManagementEnabled", "EntityCategory", "IsReadOnly" },
            row.EnumerateObject().Select(p => p.Name));
        Assert.False(lastPage.RootElement.TryGetProperty("@odata.nextLink", out _));
        Assert.Equal(WellKnown.DataEntities.Count - 10, lastPage.RootElement.GetProperty("value").GetArrayLength());
    }

    [Fact]
    public async Task The_refresh_answers_204_when_done_and_a_lost_answer_is_not_sent_again()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(300));
        var client = new MetadataClient(env.Session);

        var done = await client.InitializeDataManagementAsync(null, CancellationToken.None);
        var cut = await client.InitializeDataManagementAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None);

        Assert.True(done.Completed);
        Assert.NotNull(done.CompletedAt);
        Assert.False(cut.Completed);
        Assert.Null(cut.CompletedAt);
        for (var i = 0; i < 100 && env.Emulator.State.Requests.Count(r => r.PathAndQuery.EndsWith("InitializeDataManagement")) < 2; i++) await Task.Delay(20);
        Assert.Equal(2, env.Emulator.State.Requests.Count(r => r.PathAndQuery.EndsWith("InitializeDataManagement")));
    }

    [Fact]
    public async Task The_emulator_lacks_the_async_package_actions_when_told_and_answers_an_empty_staging_url_as_a_string()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.AsyncPackageActions = false);
        var (status, body) = await harness.ActionAsync("ImportFromPackageAsync", "{}");
        var (initialize, empty) = await harness.ActionAsync("InitializeDataManagement", "{}");
        var exportId = await harness.ActionValueAsync("ExportToPackage",
            "{\"definitionGroupId\":\"" + WellKnown.DefinitionGroup + "\",\"packageName\":\"p\",\"executionId\":\"\",\"reExecute\":false,\"legalEntityId\":\"usmf\"}");
        var (stagingStatus, staging) = await harness.ActionAsync("GetImportStagingErrorFileUrl", "{\"executionId\":\"" + exportId + "\",\"entityName\":\"Customer groups\"}");

        Assert.Equal(200, stagingStatus);
        Assert.Contains("\"value\":\"\"", staging);
        Assert.Equal(404, status);
        Assert.Contains("No HTTP resource was found", body);
        Assert.Equal((204, ""), (initialize, empty));
    }
}
