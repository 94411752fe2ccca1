using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

public sealed class EnqueueTests
{
    [Fact]
    public async Task Enqueue_answers_the_message_id_as_a_quoted_json_string()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var response = await harness.Http.PostAsync($"api/connector/enqueue/{WellKnown.ImportActivity}?entity=Customer%20groups", new ByteArrayContent([1, 2, 3]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Matches("^\"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\"$", body);
        Assert.Equal(Guid.Parse(body.Trim('"')), Assert.Single(harness.Emulator.State.Enqueued).MessageId);
    }

    [Theory]
    [InlineData("{0}")]
    [InlineData("{{{0}}}")]
    [InlineData("%7B{0}%7D")]
    [InlineData("%7b{0}%7d")]
    public async Task Enqueue_accepts_bare_braced_and_encoded_activity_ids(string format)
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var activity = string.Format(format, WellKnown.ImportActivity);

        using var response = await harness.Http.PostAsync($"api/connector/enqueue/{activity}", new ByteArrayContent([1]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(WellKnown.ImportActivity, Assert.Single(harness.Emulator.State.Enqueued).ActivityId);
    }

    [Fact]
    public async Task Enqueue_stores_entity_company_external_identifier_and_content()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/connector/enqueue/{WellKnown.ImportActivity}?entity=Customer%20groups&company=USMF")
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes("a,b\n1,2\n")),
        };
        request.Headers.Add("x-ms-dyn-externalidentifier", "groups.csv");

        using var response = await harness.Http.SendAsync(request);

        response.EnsureSuccessStatusCode();
        var record = Assert.Single(harness.Emulator.State.Enqueued);
        Assert.Equal(("Customer groups", "USMF", "groups.csv"), (record.Entity, record.Company, record.ExternalIdentifier));
        Assert.Equal("a,b\n1,2\n", Encoding.UTF8.GetString(record.Content!));
        Assert.Equal(8, record.Length);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(record.Content!)), record.Sha256);
    }

    [Fact]
    public async Task Enqueue_of_a_body_above_the_retained_limit_keeps_only_length_and_hash()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var content = new byte[EmulatorState.RetainedContentLimit + 1];
        new Random(1).NextBytes(content);

        using var response = await harness.Http.PostAsync($"api/connector/enqueue/{WellKnown.ImportActivity}", new ByteArrayContent(content));

        response.EnsureSuccessStatusCode();
        var record = Assert.Single(harness.Emulator.State.Enqueued);
        Assert.Null(record.Content);
        Assert.Equal(content.Length, record.Length);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), record.Sha256);
    }

    [Theory]
    [InlineData("6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a99")]
    [InlineData("6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02")] // the export activity
    [InlineData("not-a-guid")]
    public async Task Enqueue_to_an_unknown_or_export_activity_is_400_with_an_odata_error_naming_it(string activity)
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var response = await harness.Http.PostAsync($"api/connector/enqueue/{activity}", new ByteArrayContent([1]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = error.RootElement.GetProperty("error");
        Assert.Equal("", root.GetProperty("code").GetString());
        Assert.Equal("An error has occurred.", root.GetProperty("message").GetString());
        Assert.Contains(activity, root.GetProperty("innererror").GetProperty("message").GetString());
        Assert.Empty(harness.Emulator.State.Enqueued);
    }

    [Fact]
    public async Task Enqueue_above_MaxEnqueueBytes_is_413_and_stores_nothing()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.MaxEnqueueBytes = 1000);

        using var atLimit = await harness.Http.PostAsync($"api/connector/enqueue/{WellKnown.ImportActivity}", new ByteArrayContent(new byte[1000]));
        using var aboveLimit = await harness.Http.PostAsync($"api/connector/enqueue/{WellKnown.ImportActivity}", new ByteArrayContent(new byte[1001]));

        Assert.Equal(HttpStatusCode.OK, atLimit.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, aboveLimit.StatusCode);
        Assert.Equal(1000, Assert.Single(harness.Emulator.State.Enqueued).Length);
    }

    [Fact]
    public async Task Enqueue_above_MaxEnqueueBytes_is_413_for_a_chunked_body_too()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.MaxEnqueueBytes = 1000);
        var content = new StreamContent(new System.IO.MemoryStream(new byte[5000]));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/connector/enqueue/{WellKnown.ImportActivity}") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await harness.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(harness.Emulator.State.Enqueued);
    }

    [Fact]
    public async Task Parallel_enqueues_are_all_stored_once()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        var ids = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => harness.EnqueueAsync($"file {i}")));

        Assert.Equal(200, ids.Distinct().Count());
        Assert.Equal(ids.OrderBy(id => id), harness.Emulator.State.Enqueued.Select(r => r.MessageId).OrderBy(id => id));
    }
}
