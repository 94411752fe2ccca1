using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// The recurring-integration connector API: enqueue, dequeue, download, ack (docs/protocol.md, "Connector: enqueue" to
/// "Connector: acknowledge").
/// </summary>
/// <remarks>
/// An import's outcome is steered by markers in its content (looked for only in bodies up to
/// <see cref="EmulatorState.RetainedContentLimit"/>; the file is read as UTF-8 unless it has a UTF-16 BOM):
/// <list type="bullet">
/// <item><c>EMULATOR-ERROR:</c> anywhere in a line makes the import end ProcessedWithErrors, with one
/// execution error per such line whose message is the rest of the line after the marker.</item>
/// <item><c>EMULATOR-PREPROCESSING-ERROR</c> anywhere makes it go Enqueued -> Preprocessing -> PreProcessingError.</item>
/// </list>
/// </remarks>
internal sealed class ConnectorEndpoints
{
    internal const string ErrorMarker = "EMULATOR-ERROR:";
    internal const string PreprocessingErrorMarker = "EMULATOR-PREPROCESSING-ERROR";
    private const int AckBodyLimit = 64 * 1024;

    private readonly EmulatorOptions _options;
    private readonly EmulatorState _state;

    public ConnectorEndpoints(EmulatorOptions options, EmulatorState state)
    {
        _options = options;
        _state = state;
    }

    public async Task EnqueueAsync(HttpContext context, string activitySegment)
    {
        if (await ResolveActivityAsync(context, activitySegment, ActivityKind.Import) is not { } activity)
            return;
        var limit = _options.MaxEnqueueBytes;
        if (limit is { } declaredLimit && context.Request.ContentLength > declaredLimit)
        {
            await TooLargeAsync(context, declaredLimit);
            return;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var retained = new MemoryStream();
        long length = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                length += read;
                if (length > limit)
                {
                    await TooLargeAsync(context, limit.Value);
                    return;
                }
                hash.AppendData(buffer, 0, read);
                if (retained is not null && length > EmulatorState.RetainedContentLimit)
                    retained = null;
                retained?.Write(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var content = retained?.ToArray();
        var errors = new List<ImportError>();
        var preprocessingFails = content is not null && ScanMarkers(content, errors);
        var message = new ImportMessage
        {
            MessageId = Guid.NewGuid(),
            ActivityId = activity.Id,
            Entity = NullIfEmpty(context.Request.Query["entity"].ToString()),
            Company = NullIfEmpty(context.Request.Query["company"].ToString()),
            ExternalIdentifier = NullIfEmpty(context.Request.Headers["x-ms-dyn-externalidentifier"].ToString()),
            Content = content,
            Length = length,
            Sha256 = Convert.ToHexStringLower(hash.GetHashAndReset()),
            EnqueuedAt = DateTimeOffset.UtcNow,
            ExecutionId = Guid.NewGuid().ToString(),
            Errors = errors,
            PreprocessingFails = preprocessingFails,
        };
        _state.AddImport(message);
        // The real service answers the id as a JSON string literal, quotes included.
        await Wire.WriteBytesAsync(context, 200, Wire.JsonContentType, Encoding.UTF8.GetBytes($"\"{message.MessageId}\""));
    }

    public async Task DequeueAsync(HttpContext context, string activitySegment)
    {
        if (await ResolveActivityAsync(context, activitySegment, ActivityKind.Export) is not { } activity)
            return;
        if (_state.TryDequeue(activity.Id) is not { } dequeued)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }
        var message = dequeued.Message;
        var location = DownloadLocation(context, message);
        await Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("CorrelationId", message.CorrelationId);
            w.WriteString("PopReceipt", dequeued.PopReceipt);
            w.WriteString("DownloadLocation", location);
            w.WriteBoolean("IsDownLoadFileExist", true);
            w.WriteString("FileDownLoadErrorMessage", "");
            if (dequeued.PreviousDequeue is { } previous)
                w.WriteString("LastDequeueDateTime", previous.UtcDateTime);
            else
                w.WriteNull("LastDequeueDateTime");
            w.WriteEndObject();
        });
    }

    public async Task DownloadAsync(HttpContext context, string activitySegment)
    {
        if (await ResolveActivityAsync(context, activitySegment, ActivityKind.Export) is not { } activity)
            return;
        var query = context.Request.Query;
        if (!Guid.TryParse(query["correlation-id"], out var correlationId) || !Guid.TryParse(query["blob"], out var blobId)
            || _state.FindExport(correlationId) is not { } message || message.ActivityId != activity.Id || message.BlobId != blobId)
        {
            await Wire.WriteODataErrorAsync(context, 404, $"No file was found for correlation id '{query["correlation-id"]}' and blob '{query["blob"]}'.");
            return;
        }
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/octet-stream";
        if (message.Content is not null)
        {
            context.Response.ContentLength = message.Content.Length;
            await context.Response.Body.WriteAsync(message.Content, context.RequestAborted);
        }
        else
        {
            context.Response.ContentLength = new FileInfo(message.FilePath!).Length;
            await context.Response.SendFileAsync(message.FilePath!, context.RequestAborted);
        }
    }

    public async Task AckAsync(HttpContext context, string activitySegment)
    {
        if (await ResolveActivityAsync(context, activitySegment, ActivityKind.Export) is not { } activity)
            return;
        if (await ReadAckAsync(context) is not { } ack)
        {
            await Wire.WriteODataErrorAsync(context, 400, "The acknowledgement body must be the JSON body returned by dequeue, with CorrelationId and PopReceipt.");
            return;
        }
        var (correlationId, popReceipt) = ack;
        switch (_state.Ack(activity.Id, correlationId, popReceipt))
        {
            case AckResult.Acked:
                context.Response.StatusCode = 200;
                context.Response.ContentLength = 0;
                break;
            case AckResult.Unknown:
                await Wire.WriteODataErrorAsync(context, 400, $"No message with correlation id '{correlationId}' was found for activity '{activity.Id}'.");
                break;
            default:
                await Wire.WriteODataErrorAsync(context, 400, $"The pop receipt for message '{correlationId}' is not valid: the message was dequeued again since.");
                break;
        }
    }

    /// <summary>Reads the activity id (bare, braced, or braced and URL-encoded: the path arrives decoded) and
    /// answers 400 itself when it is not a known activity of the expected kind.</summary>
    private async Task<EmulatorActivity?> ResolveActivityAsync(HttpContext context, string segment, ActivityKind kind)
    {
        if (Guid.TryParse(segment, out var id))
        {
            foreach (var activity in _options.Activities)
            {
                if (activity.Id == id && activity.Kind == kind)
                    return activity;
            }
        }
        await Wire.WriteODataErrorAsync(context, 400, $"Activity '{segment}' was not found or is not an {kind.ToString().ToLowerInvariant()} recurring data job.");
        return null;
    }

    private string DownloadLocation(HttpContext context, ExportMessage message)
    {
        var host = _options.DownloadHost ?? context.Request.Host.Host;
        var authority = _options.HttpDownloadLocation
            ? $"http://{host}:80"
            : $"{context.Request.Scheme}://{host}:{context.Request.Host.Port ?? (context.Request.IsHttps ? 443 : 80)}";
        return $"{authority}/api/connector/download/%7B{message.ActivityId}%7D?correlation-id={message.CorrelationId}&blob={message.BlobId}";
    }

    private static async Task<(Guid CorrelationId, string? PopReceipt)?> ReadAckAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        var buffer = new byte[8192];
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            if (body.Length + read > AckBodyLimit)
                return null;
            body.Write(buffer, 0, read);
        }
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return null;
            Guid? correlationId = null;
            string? popReceipt = null;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (string.Equals(property.Name, "CorrelationId", StringComparison.OrdinalIgnoreCase))
                    correlationId = property.Value.ValueKind == JsonValueKind.String && Guid.TryParse(property.Value.GetString(), out var id) ? id : null;
                else if (string.Equals(property.Name, "PopReceipt", StringComparison.OrdinalIgnoreCase))
                    popReceipt = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
            }
            return correlationId is { } found ? (found, popReceipt) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Collects the execution errors the markers ask for; true when preprocessing must fail.</summary>
    private static bool ScanMarkers(byte[] content, List<ImportError> errors)
    {
        using var reader = new StreamReader(new MemoryStream(content), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var preprocessingFails = false;
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            preprocessingFails |= line.Contains(PreprocessingErrorMarker, StringComparison.Ordinal);
            var at = line.IndexOf(ErrorMarker, StringComparison.Ordinal);
            if (at >= 0)
                errors.Add(new ImportError(lineNumber, line[(at + ErrorMarker.Length)..].Trim()));
        }
        return preprocessingFails;
    }

    private static Task TooLargeAsync(HttpContext context, long limit) =>
        Wire.WriteODataErrorAsync(context, 413, $"The request body is larger than the {limit} bytes this environment accepts.");

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
