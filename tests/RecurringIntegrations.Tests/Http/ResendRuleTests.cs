using System;
using System.IO;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Tests.Support;
using Xunit;
using static RecurringIntegrations.Tests.Support.MockTransport;

namespace RecurringIntegrations.Tests.Http;

/// <summary>
/// The resend rule of calls that start work, on fake time: a call goes again only when the service cannot have taken it,
/// and each caller names a refusal with its own error.
/// </summary>
public sealed class ResendRuleTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private const string MessageId = "6d31e09f-0249-459f-94f0-aad9c2c47b64";
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-resend-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static Func<HttpRequestMessage, HttpResponseMessage> Fault(string fault) => fault switch
    {
        "408" or "503" or "502" or "504" => AfterBody(Status(int.Parse(fault))),
        "429" => AfterBody(Status(429, "", "1")),
        "500-from-the-service" => AfterBody(Status(500, "{\"error\":{\"code\":\"\",\"message\":\"An error has occurred.\"}}")),
        "500-from-a-gateway" => AfterBody(Status(500, "<html><title>Internal Server Error</title></html>")),
        "refused" => Refused(),
        "failed-before-the-body" => Fails(),
        // "Expect: 100-continue" (.NET Framework): the answer comes before the body is asked for.
        "500-from-a-gateway-before-the-body" => Status(500, "<html><title>Internal Server Error</title></html>"),
        "502-before-the-body" => Status(502),
        "reset-after-the-body" => AfterBody(Fails()),
        "no-answer-in-time" => AfterBody(Hangs),
        _ => throw new ArgumentOutOfRangeException(nameof(fault)),
    };

    [Theory]
    [InlineData("408")]
    [InlineData("429")]
    [InlineData("503")]
    [InlineData("500-from-the-service")]
    [InlineData("refused")]
    [InlineData("failed-before-the-body")]
    [InlineData("500-from-a-gateway-before-the-body")]
    [InlineData("502-before-the-body")]
    public void Enqueue_goes_again_when_the_service_cannot_have_taken_the_file(string fault)
    {
        using var mocked = Mocked.Connect(Fault(fault), Json($"\"{MessageId}\""));
        var file = Path.Combine(_folder, "a.xml");
        File.WriteAllText(file, "<a/>");

        var call = mocked.Client.EnqueueAsync(Guid.NewGuid(), file, "Customer groups", null, null, None);
        mocked.Step(10_000, call);

        Assert.Equal(Guid.Parse(MessageId), Mocked.Done(call));
        Assert.Equal(2, mocked.Transport.Requests.Count);
    }

    [Fact]
    public void A_file_another_program_holds_when_the_body_opens_it_is_a_local_error_sent_once_and_not_unconfirmed()
    {
        var file = Path.Combine(_folder, "a.xml");
        File.WriteAllText(file, "<a/>");
        // Windows' sharing violation (ERROR_SHARING_VIOLATION, 0x80070020) when the try opens the file for its body.
        using var mocked = Mocked.Connect(AfterBody(Json($"\"{MessageId}\"")) is var send ? request =>
        {
            ((FileUploadContent)request.Content!).Open = _ => throw new IOException(
                "The process cannot access the file because it is being used by another process.", unchecked((int)0x80070020));
            return send(request);
        } : null!);

        var call = mocked.Client.EnqueueAsync(Guid.NewGuid(), file, "Customer groups", null, null, None);
        mocked.Step(10_000, call);

        var error = Assert.IsType<D365Exception>(call.Exception!.InnerException);
        Assert.Equal("EnqueueFileLocked", error.ErrorId);
        Assert.Contains(file, error.Message);
        Assert.Contains("Nothing of it was sent.", error.Message);
        Assert.Single(mocked.Transport.Requests);
    }

    [Theory]
    [InlineData("500-from-a-gateway", "Enqueue: the 500 answer is not the service's own error, so something in between may have cut the call off after the service took it.")]
    [InlineData("502", "Enqueue: a gateway answered 502 Bad Gateway, and the service behind it may have taken the call.")]
    [InlineData("504", "Enqueue: a gateway answered 504 Gateway Timeout, and the service behind it may have taken the call.")]
    [InlineData("reset-after-the-body", "Enqueue: the connection failed after it was sent (Connection reset by peer), and the service may have taken it.")]
    [InlineData("no-answer-in-time", "Enqueue: no answer within 100 s after it was sent, and the service may have taken it.")]
    public void Enqueue_is_not_sent_again_when_the_service_may_have_taken_the_file(string fault, string why)
    {
        using var mocked = Mocked.Connect(Fault(fault), Json($"\"{MessageId}\""));
        var file = Path.Combine(_folder, "a.xml");
        File.WriteAllText(file, "<a/>");

        var call = mocked.Client.EnqueueAsync(Guid.NewGuid(), file, "Customer groups", null, null, None);
        for (var i = 0; i < 200 && !call.IsCompleted; i++) mocked.Advance(1000);

        var error = Assert.IsType<D365Exception>(call.Exception!.InnerException);
        Assert.Equal("EnqueueOutcomeUnknown", error.ErrorId);
        Assert.Equal(D365ErrorCategory.ConnectionError, error.Category);
        Assert.StartsWith(why + " Sent once (", error.Message);
        Assert.Contains("and not again, to avoid a duplicate message. Check the job's message history", error.Message);
        Assert.EndsWith("The file was left in place.", error.Message);
        Assert.Single(mocked.Transport.Requests);
        Assert.True(File.Exists(file));
    }

    [Fact]
    public void A_package_import_that_may_have_started_is_named_by_the_package_client_with_its_own_advice()
    {
        using var mocked = Mocked.Connect(AfterBody(Status(502)));
        var client = new DataPackageClient(mocked.Session);

        var call = client.ImportFromPackageAsync(new Uri("https://account.blob.core.windows.net/c/p.zip?sv=2014-02-14&sig=abc"), "Groups", null, true, false, "usmf", None);

        var error = Assert.IsType<D365Exception>(call.Exception!.InnerException);
        Assert.Equal("PackageOutcomeUnknown", error.ErrorId);
        Assert.Equal("ImportFromPackageAsync: a gateway answered 502 Bad Gateway, and the service behind it may have taken the call. Sent once (0.0 s). " +
                     "It was not sent again, to avoid running it twice. Check the data project's execution history in the environment before you run it again.",
            error.Message);
        Assert.Single(mocked.Transport.Requests);
    }

    [Fact]
    public void A_package_status_call_goes_again_after_the_same_failure()
    {
        using var mocked = Mocked.Connect(AfterBody(Status(502)), Json("{\"value\":\"Executing\"}"));
        var client = new DataPackageClient(mocked.Session);

        var call = client.GetExecutionSummaryStatusAsync("exec-1", None);
        mocked.Advance(125);

        Assert.Equal("Executing", Mocked.Done(call));
        Assert.Equal(new[] { 0.0, 125 }, mocked.Transport.SentAt);
    }
}
