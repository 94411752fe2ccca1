using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

using RecurringIntegrations.Tests.Support;

namespace RecurringIntegrations.Tests.Emulator;

public sealed class DequeueTests
{
    private static readonly string DequeuePath = $"api/connector/dequeue/{WellKnown.ExportActivity}";
    private static readonly string AckPath = $"api/connector/ack/{WellKnown.ExportActivity}";

    [Fact]
    public async Task Dequeue_returns_204_with_empty_body_when_queue_is_empty()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var response = await harness.Http.GetAsync(DequeuePath);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Dequeue_body_has_the_exact_property_names_order_and_values()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var correlationId = harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1, 2]);

        using var response = await harness.Http.GetAsync($"api/connector/dequeue/%7B{WellKnown.ExportActivity}%7D");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        var port = harness.Emulator.BaseUri.Port;
        Assert.Matches(
            "^\\{\"CorrelationId\":\"" + correlationId + "\",\"PopReceipt\":\"[A-Za-z0-9+/]+=*\"," +
            "\"DownloadLocation\":\"https://127\\.0\\.0\\.1:" + port + "/api/connector/download/%7B" + WellKnown.ExportActivity +
            "%7D\\?correlation-id=" + correlationId + "&blob=[0-9a-f-]{36}\"," +
            "\"IsDownLoadFileExist\":true,\"FileDownLoadErrorMessage\":\"\",\"LastDequeueDateTime\":null\\}$",
            body);
        Assert.Equal(1, harness.Emulator.State.DequeueCount(correlationId));
    }

    [Fact]
    public async Task Dequeued_message_is_not_redelivered_before_the_timeout()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);

        using var first = await harness.Http.GetAsync(DequeuePath);
        using var second = await harness.Http.GetAsync(DequeuePath);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, second.StatusCode);
    }

    [Fact]
    public async Task Unacknowledged_message_is_redelivered_after_the_timeout_with_a_new_receipt_and_LastDequeueDateTime()
    {
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var harness = await EmulatorHarness.StartAsync(o => { o.RedeliveryTimeout = TimeSpan.FromMilliseconds(200); o.Time = serviceClock; });
        var correlationId = harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);

        var first = await DequeueAsync(harness);
        var before = DateTime.UtcNow;
        serviceClock.Advance(TimeSpan.FromMilliseconds(250));
        var second = await DequeueAsync(harness);

        Assert.Equal(correlationId.ToString(), second.GetProperty("CorrelationId").GetString());
        Assert.NotEqual(first.GetProperty("PopReceipt").GetString(), second.GetProperty("PopReceipt").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("LastDequeueDateTime").ValueKind);
        var last = second.GetProperty("LastDequeueDateTime").GetDateTime();
        Assert.InRange(last, before.AddSeconds(-5), before);
        Assert.Equal(2, harness.Emulator.State.DequeueCount(correlationId));
    }

    [Fact]
    public async Task Ack_with_the_original_body_stops_redelivery()
    {
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var harness = await EmulatorHarness.StartAsync(o => { o.RedeliveryTimeout = TimeSpan.FromMilliseconds(100); o.Time = serviceClock; });
        var correlationId = harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);
        using var dequeue = await harness.Http.GetAsync(DequeuePath);
        var original = await dequeue.Content.ReadAsStringAsync();

        using var ack = await harness.Http.PostAsync(AckPath, new StringContent(original, Encoding.UTF8, "application/json"));
        serviceClock.Advance(TimeSpan.FromMilliseconds(150));
        using var again = await harness.Http.GetAsync(DequeuePath);

        Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        Assert.Equal([correlationId], harness.Emulator.State.Acknowledged);
        Assert.Equal(0, harness.Emulator.State.PendingExports(WellKnown.ExportActivity));
        Assert.Equal("Acked", await harness.StatusOfAsync(correlationId));
    }

    [Fact]
    public async Task Ack_accepts_only_CorrelationId_PopReceipt_and_DownloadLocation_in_any_case()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);
        var dequeued = await DequeueAsync(harness);
        var body = JsonSerializer.Serialize(new
        {
            correlationid = dequeued.GetProperty("CorrelationId").GetString(),
            POPRECEIPT = dequeued.GetProperty("PopReceipt").GetString(),
            downloadLocation = dequeued.GetProperty("DownloadLocation").GetString(),
        });

        using var ack = await harness.Http.PostAsync(AckPath, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        Assert.Single(harness.Emulator.State.Acknowledged);
    }

    [Fact]
    public async Task Ack_repeated_with_the_same_receipt_succeeds_once_more()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);
        var body = (await DequeueAsync(harness)).GetRawText();

        using var first = await harness.Http.PostAsync(AckPath, new StringContent(body, Encoding.UTF8, "application/json"));
        using var retry = await harness.Http.PostAsync(AckPath, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Single(harness.Emulator.State.Acknowledged);
    }

    [Fact]
    public async Task Ack_with_a_stale_pop_receipt_is_400_and_the_message_stays_pending()
    {
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var harness = await EmulatorHarness.StartAsync(o => { o.RedeliveryTimeout = TimeSpan.FromMilliseconds(100); o.Time = serviceClock; });
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);
        var stale = (await DequeueAsync(harness)).GetRawText();
        serviceClock.Advance(TimeSpan.FromMilliseconds(150));
        await DequeueAsync(harness);

        using var ack = await harness.Http.PostAsync(AckPath, new StringContent(stale, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, ack.StatusCode);
        Assert.Contains("\"innererror\"", await ack.Content.ReadAsStringAsync());
        Assert.Equal(1, harness.Emulator.State.PendingExports(WellKnown.ExportActivity));
    }

    [Theory]
    [InlineData("{\"CorrelationId\":\"00000000-0000-0000-0000-000000000123\",\"PopReceipt\":\"AAAA\"}")]
    [InlineData("{\"PopReceipt\":\"AAAA\"}")]
    [InlineData("not json")]
    public async Task Ack_of_an_unknown_message_or_a_bad_body_is_400_with_an_odata_error(string body)
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var ack = await harness.Http.PostAsync(AckPath, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, ack.StatusCode);
        using var error = JsonDocument.Parse(await ack.Content.ReadAsStringAsync());
        Assert.Equal("An error has occurred.", error.RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Download_returns_the_file_bytes_as_octet_stream_with_content_length()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var content = Encoding.UTF8.GetBytes("CUSTGROUP,NAME\r\n10,Wholesale\r\n");
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", content);
        var location = (await DequeueAsync(harness)).GetProperty("DownloadLocation").GetString()!;

        using var response = await harness.Http.GetAsync(location);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(content.Length, response.Content.Headers.ContentLength);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Download_serves_an_export_file_from_disk()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(path, Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray());
            harness.Emulator.AddExportFile(WellKnown.ExportActivity, path);
            var location = (await DequeueAsync(harness)).GetProperty("DownloadLocation").GetString()!;

            using var response = await harness.Http.GetAsync(location);

            Assert.Equal(100_000, response.Content.Headers.ContentLength);
            Assert.Equal(await File.ReadAllBytesAsync(path), await response.Content.ReadAsByteArrayAsync());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Download_of_an_unknown_blob_is_404()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var correlationId = harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);

        using var response = await harness.Http.GetAsync($"api/connector/download/%7B{WellKnown.ExportActivity}%7D?correlation-id={correlationId}&blob={Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task DownloadLocation_is_http_on_port_80_with_the_production_quirk()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.HttpDownloadLocation = true);
        var correlationId = harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);

        var location = (await DequeueAsync(harness)).GetProperty("DownloadLocation").GetString()!;

        Assert.StartsWith($"http://127.0.0.1:80/api/connector/download/%7B{WellKnown.ExportActivity}%7D?correlation-id={correlationId}&blob=", location);
        var rewritten = new UriBuilder(location) { Scheme = "https", Port = harness.Emulator.BaseUri.Port }.Uri;
        using var response = await harness.Http.GetAsync(rewritten);
        Assert.Equal(new byte[] { 1 }, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task DownloadLocation_uses_the_configured_DownloadHost()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.DownloadHost = "localhost");
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);

        var location = (await DequeueAsync(harness)).GetProperty("DownloadLocation").GetString()!;

        Assert.StartsWith($"https://localhost:{harness.Emulator.BaseUri.Port}/api/connector/download/", location);
    }

    [Fact]
    public async Task Dequeue_on_an_import_activity_is_400()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var response = await harness.Http.GetAsync($"api/connector/dequeue/{WellKnown.ImportActivity}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Parallel_clients_receive_each_message_exactly_once_and_ack_it()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var expected = Enumerable.Range(0, 300)
            .Select(i => harness.Emulator.AddExportMessage(WellKnown.ExportActivity, $"f{i}", [(byte)i]))
            .ToHashSet();

        var received = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            var mine = new System.Collections.Generic.List<Guid>();
            while (true)
            {
                using var response = await harness.Http.GetAsync(DequeuePath);
                if (response.StatusCode == HttpStatusCode.NoContent)
                    return mine;
                var body = await response.Content.ReadAsStringAsync();
                using var ack = await harness.Http.PostAsync(AckPath, new StringContent(body, Encoding.UTF8, "application/json"));
                ack.EnsureSuccessStatusCode();
                mine.Add(JsonDocument.Parse(body).RootElement.GetProperty("CorrelationId").GetGuid());
            }
        }));

        var all = received.SelectMany(ids => ids).ToList();
        Assert.Equal(300, all.Count);
        Assert.True(expected.SetEquals(all));
        Assert.Equal(0, harness.Emulator.State.PendingExports(WellKnown.ExportActivity));
    }

    private static async Task<JsonElement> DequeueAsync(EmulatorHarness harness)
    {
        using var response = await harness.Http.GetAsync(DequeuePath);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
