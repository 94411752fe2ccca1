using System;
using System.Linq;
using System.Net;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.PowerShell;
using RecurringIntegrations.Tests.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Core;

/// <summary>The entities' display names from their labels (GET /Metadata/Labels), their cache and fallbacks, the emulator's
/// label endpoint and what -EntityName completes to.</summary>
public sealed class DataEntityLabelTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static int LabelCalls(Emulated env) => env.Emulator.State.Requests.Count(r => r.PathAndQuery.StartsWith("/Metadata/Labels("));

    [Fact]
    public async Task Display_names_are_the_label_texts_read_once_per_session_and_language()
    {
        await using var env = await Emulated.StartAsync();
        var client = new MetadataClient(env.Session);
        var entities = await client.GetDataEntitiesAsync(None);

        await client.ResolveDisplayNamesAsync(entities, "en-us", None);
        var again = await new MetadataClient(env.Session).GetDataEntitiesAsync(None);
        await new MetadataClient(env.Session).ResolveDisplayNamesAsync(again, "en-us", None);

        Assert.Equal(WellKnown.DataEntities.Select(e => e.Label), entities.Select(e => e.DisplayName));
        Assert.Equal(WellKnown.DataEntities.Select(e => e.Label), again.Select(e => e.DisplayName));
        Assert.Equal("Customer groups", Assert.Single(entities, e => e.Name == "CustCustomerGroupEntity").DisplayName);
        Assert.Equal(WellKnown.DataEntities.Count, LabelCalls(env));
        Assert.Contains(env.Emulator.State.Requests, r => r.PathAndQuery == "/Metadata/Labels(Id='@SYS11904',Language='en-us')");

        await client.ResolveDisplayNamesAsync(entities, "de-de", None);
        Assert.Equal(2 * WellKnown.DataEntities.Count, LabelCalls(env));
    }

    [Fact]
    public async Task Entities_sharing_a_label_share_one_call_and_a_literal_label_is_its_own_text()
    {
        await using var env = await Emulated.StartAsync();
        var entities = new[]
        {
            new DataEntity { Name = "CustCustomerGroupEntity", PublicEntityName = "CustomerGroup", LabelId = "@SYS11904" },
            new DataEntity { Name = "CustCustomerGroupCopyEntity", PublicEntityName = "CustomerGroupCopy", LabelId = "@SYS11904" },
            new DataEntity { Name = "ContosoRateEntity", PublicEntityName = "ContosoRate", LabelId = "Contoso rates" },
        };

        await new MetadataClient(env.Session).ResolveDisplayNamesAsync(entities, "en-us", None);

        Assert.Equal(new[] { "Customer groups", "Customer groups", "Contoso rates" }, entities.Select(e => e.DisplayName));
        Assert.Equal(1, LabelCalls(env));
    }

    [Fact]
    public async Task An_entity_without_a_label_or_with_an_unknown_label_takes_its_public_name_and_says_so()
    {
        await using var env = await Emulated.StartAsync();
        var client = new MetadataClient(env.Session, env.VerboseLines.Enqueue);
        DataEntity[] Entities() => new[]
        {
            new DataEntity { Name = "ContosoNoLabelEntity", PublicEntityName = "ContosoNoLabel" },
            new DataEntity { Name = "ContosoGoneEntity", PublicEntityName = "ContosoGone", LabelId = "@Contoso:Gone" },
            new DataEntity { Name = "ContosoPrivateEntity", LabelId = "@Contoso:Private" },
        };
        var first = Entities();

        await client.ResolveDisplayNamesAsync(first, "en-us", None);
        var second = Entities();
        await client.ResolveDisplayNamesAsync(second, "en-us", None);

        Assert.Equal(new[] { "ContosoNoLabel", "ContosoGone", "ContosoPrivateEntity" }, first.Select(e => e.DisplayName));
        Assert.Equal(first.Select(e => e.DisplayName), second.Select(e => e.DisplayName));
        Assert.Equal(2, LabelCalls(env));
        Assert.All(env.Emulator.State.Requests.Where(r => r.PathAndQuery.StartsWith("/Metadata/Labels(")), r => Assert.Equal(404, r.StatusCode));
        Assert.Contains(env.VerboseLines, l => l.Contains("ContosoNoLabelEntity has no label") && l.Contains("'ContosoNoLabel'"));
        Assert.Contains(env.VerboseLines, l => l.Contains("label @Contoso:Gone of ContosoGoneEntity could not be read in en-us (the service does not know it)") && l.Contains("'ContosoGone'"));
    }

    [Fact]
    public async Task A_label_call_that_failed_falls_back_this_time_and_is_tried_again_next_time()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { Operation = "Labels", Kind = FaultKind.Status, StatusCode = 400 });
        var client = new MetadataClient(env.Session, env.VerboseLines.Enqueue);
        var first = new[] { new DataEntity { Name = "CustCustomerGroupEntity", PublicEntityName = "CustomerGroup", LabelId = "@SYS11904" } };
        var second = new[] { new DataEntity { Name = "CustCustomerGroupEntity", PublicEntityName = "CustomerGroup", LabelId = "@SYS11904" } };

        await client.ResolveDisplayNamesAsync(first, "en-us", None);
        await client.ResolveDisplayNamesAsync(second, "en-us", None);

        Assert.Equal("CustomerGroup", first[0].DisplayName);
        Assert.Equal("Customer groups", second[0].DisplayName);
        Assert.Equal(2, LabelCalls(env));
        Assert.Contains(env.VerboseLines, l => l.Contains("label @SYS11904 of CustCustomerGroupEntity could not be read in en-us") && l.Contains("'CustomerGroup'"));
    }

    [Fact]
    public async Task The_emulator_lists_label_ids_and_answers_each_label_or_an_OData_404()
    {
        await using var harness = await EmulatorHarness.StartAsync(o =>
            o.DataEntities.AddRange(new[]
            {
                new EmulatedDataEntity("CustCustomerGroupEntity", "CustomerGroup", "CustomerGroups", "Customer groups", "Reference", LabelId: "@SYS11904"),
                new EmulatedDataEntity("ContosoRateEntity", "ContosoRate", "ContosoRates", "Contoso rates", "Reference"),
                new EmulatedDataEntity("ContosoNoLabelEntity", "ContosoNoLabel", "ContosoNoLabels", "Contoso", "Reference", LabelId: ""),
            }));
        using var list = JsonDocument.Parse(await harness.Http.GetStringAsync("Metadata/DataEntities"));
        using var label = JsonDocument.Parse(await harness.Http.GetStringAsync("Metadata/Labels(Id='@SYS11904',Language='en-us')"));
        using var derived = JsonDocument.Parse(await harness.Http.GetStringAsync("Metadata/Labels(Id='@Emulator:ContosoRateEntity',Language='de-de')"));
        using var unknown = await harness.Http.GetAsync("Metadata/Labels(Id='@SYS1',Language='en-us')");
        using var other = await harness.Http.GetAsync("Metadata/Nothing");

        Assert.Equal(new string?[] { "@SYS11904", "@Emulator:ContosoRateEntity", null },
            list.RootElement.GetProperty("value").EnumerateArray().Select(e => e.GetProperty("LabelId").GetString()));
        Assert.Equal(("@SYS11904", "en-us", "Customer groups"),
            (label.RootElement.GetProperty("Id").GetString(), label.RootElement.GetProperty("Language").GetString(), label.RootElement.GetProperty("Value").GetString()));
        Assert.EndsWith("/Metadata/$metadata#Labels/$entity", label.RootElement.GetProperty("@odata.context").GetString());
        Assert.Equal(("de-de", "Contoso rates"), (derived.RootElement.GetProperty("Language").GetString(), derived.RootElement.GetProperty("Value").GetString()));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var error = JsonDocument.Parse(await unknown.Content.ReadAsStringAsync());
        Assert.Contains("@SYS1", error.RootElement.GetProperty("error").GetProperty("innererror").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public void Every_well_known_entity_has_its_own_label_id_and_the_project_entities_are_among_their_texts()
    {
        Assert.All(WellKnown.DataEntities, e => Assert.StartsWith("@", e.EffectiveLabelId));
        Assert.Equal(WellKnown.DataEntities.Count, WellKnown.DataEntities.Select(e => e.EffectiveLabelId).Distinct().Count());
        Assert.Contains(WellKnown.DataEntities, e => e.Label == "Customer groups");
        Assert.Contains(WellKnown.DataEntities, e => e.Label == "Vendor groups");
    }

    private static DataEntity Entity(string name, string display, string collection, string category, bool dataManagement = true) =>
        new() { Name = name, DisplayName = display, PublicCollectionName = collection, Category = category, DataManagementEnabled = dataManagement };

    private static readonly DataEntity[] Completable =
    {
        Entity("VendVendorGroupEntity", "Vendor groups", "VendorGroups", "Reference"),
        Entity("CustCustomerGroupEntity", "Customer groups", "CustomerGroups", "Reference"),
        Entity("CustCustomerV3Entity", "Customers V3", "CustomersV3", "Master"),
        Entity("ContosoQuoteEntity", "Contoso's rates", "ContosoRates", "Reference"),
        Entity("ExchangeRateEntity", "ExchangeRates", "ExchangeRates", "Reference"),
        Entity("SystemUserEntity", "Users", "SystemUsers", "Reference", dataManagement: false),
    };

    [Theory]
    [InlineData("Cust", new[] { "'Customer groups'", "'Customers V3'" })]
    [InlineData("'Customer g", new[] { "'Customer groups'" })]
    [InlineData("CustC", new[] { "'Customer groups'", "'Customers V3'" })]
    [InlineData("group", new[] { "'Customer groups'", "'Vendor groups'" })]
    [InlineData("Contoso", new[] { "'Contoso''s rates'" })]
    [InlineData("Exch", new[] { "ExchangeRates" })]
    [InlineData("User", new string[0])]
    [InlineData("nothing", new string[0])]
    public void Completion_offers_display_names_quoted_matching_the_start_then_any_part(string word, string[] expected)
    {
        Assert.Equal(expected, EntityNameMatcher.Match(Completable, word).Select(m => m.CompletionText));
    }

    [Fact]
    public void Completion_lists_the_display_name_and_its_tooltip_names_the_entity_collection_and_category()
    {
        var match = Assert.Single(EntityNameMatcher.Match(Completable, "Customer g"));

        Assert.Equal(("Customer groups", "CustCustomerGroupEntity (CustomerGroups, Reference)"), (match.ListItemText, match.ToolTip));
        Assert.Equal(5, EntityNameMatcher.Match(Completable, "").Count());
    }
}
