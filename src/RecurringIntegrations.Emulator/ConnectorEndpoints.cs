using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RecurringIntegrations.Emulator;

/// <summary>The recurring-integration connector API: enqueue, dequeue, download, ack (docs/protocol.md, "Connector: enqueue" to "Connector: acknowledge") and the
/// legacy job status that older clients poll.</summary>
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

    public void Map(IEndpointRouteBuilder routes)
    {
        Map(routes.MapPost("/api/connector/enqueue/{activity}", context => EnqueueAsync(context, Activity(context))), "Enqueue");
        Map(routes.MapGet("/api/connector/dequeue/{activity}", context => DequeueAsync(context, Activity(context))), "Dequeue");
        Map(routes.MapGet("/api/connector/download/{activity}", context => DownloadAsync(context, Activity(context))), "Download");
        Map(routes.MapPost("/api/connector/ack/{activity}", context => AckAsync(context, Activity(context))), "Ack");
        Map(routes.MapGet("/api/connector/jobstatus/{activity}", context => JobStatusAsync(context, Activity(context))), "JobStatus");
    }

    private static void Map(IEndpointConventionBuilder endpoint, string operation) =>
        endpoint.WithMetadata(new Operation(operation, OperationAccess.Service));

    /// <summary>The route's activity segment, decoded (so %7B...%7D arrives as {...}).</summary>
    private static string Activity(HttpContext context) => (string)context.GetRouteValue("activity")!;

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
        var retained = new MemoryStream(context.Request.ContentLength is > 0 and <= EmulatorState.RetainedContentLimit ? (int)context.Request.ContentLength.Value : 0);
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
            EnqueuedAt = _options.Time.GetUtcNow(),
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
            if (message.FileMissing)
            {
                // As the service does for a file cleaned up: a location all the same, which storage answers 404 BlobNotFound.
                w.WriteString("DownloadLocation", location);
                w.WriteBoolean("IsDownLoadFileExist", false);
                w.WriteString("FileDownLoadErrorMessage", $"The file of message '{message.CorrelationId}' was not found in storage.");
            }
            else
            {
                w.WriteString("DownloadLocation", location);
                w.WriteBoolean("IsDownLoadFileExist", true);
                w.WriteString("FileDownLoadErrorMessage", "");
            }
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
        if (message.FileMissing)
        {
            // What storage answers for a blob that is gone (docs/protocol.md, "Connector: download").
            context.Response.Headers["x-ms-error-code"] = "BlobNotFound";
            await Wire.WriteBytesAsync(context, 404, "application/xml", Encoding.UTF8.GetBytes(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>"));
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

    /// <summary>
    /// GET /api/connector/jobstatus/{activity}?jobId={messageId}: the legacy status that Microsoft's scheduler and its samples
    /// read as a DataJobStatusDetail. DataJobState is a number (Enqueued 0, InProcess 4, Processed 5, ProcessedWithErrors 6,
    /// PreProcessError 8), ExecutionLog a string, ExecutionDetail one row per entity once processing started, its staging
    /// and target states numbers too (Executing 2, Error 3, Finished 4). Dates not reached yet are AX's empty date, 1900-01-01.
    /// </summary>
    public async Task JobStatusAsync(HttpContext context, string activitySegment)
    {
        if (await ResolveActivityAsync(context, activitySegment, ActivityKind.Import) is not { } activity)
            return;
        var jobId = context.Request.Query["jobId"].ToString().Trim('"');
        if (!Guid.TryParse(jobId, out var messageId) || _state.FindImport(messageId) is not { } import || import.ActivityId != activity.Id)
        {
            await Wire.WriteODataErrorAsync(context, 400, $"Message '{jobId}' was not found for activity '{activity.Id}'.");
            return;
        }
        var now = _options.Time.GetUtcNow();
        var status = _state.StatusOf(import, now);
        var (state, final) = status switch
        {
            "Enqueued" => (0, false),
            "Processing" or "Preprocessing" => (4, false),
            "Processed" => (5, true),
            "ProcessedWithErrors" => (6, true),
            _ => (8, true),
        };
        var started = status == "Enqueued" ? (DateTimeOffset?)null : import.EnqueuedAt + _options.ProcessingDelay;
        var completed = final ? import.EnqueuedAt + 2 * _options.ProcessingDelay : (DateTimeOffset?)null;
        var errors = final && !import.PreprocessingFails ? import.Errors.Count : 0;
        var log = status switch
        {
            "Enqueued" => "",
            "Processing" or "Preprocessing" => $"{status} started.",
            "PreProcessingError" => "Preprocessing failed: the file could not be read.",
            _ => string.Join("\r\n", new[] { $"{status}." }.Concat(import.Errors.Select(e => $"Line {e.LineNumber}: {e.Message}"))),
        };
        static string Date(DateTimeOffset? at) => (at ?? new DateTimeOffset(1900, 1, 1, 0, 0, 0, TimeSpan.Zero)).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
        await Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("DataJobStatus");
            w.WriteString("DataProject", activity.Name);
            w.WriteString("DataJobIdentifier", import.MessageId.ToString());
            w.WriteString("ExternalIdentifier", import.ExternalIdentifier ?? "");
            w.WriteString("ExecutionIdentifier", status == "Enqueued" ? "" : import.ExecutionId);
            w.WriteString("DataJobStartedDateTime", Date(started));
            w.WriteString("DataJobCompletedDateTime", Date(completed));
            w.WriteNumber("DataJobState", state);
            w.WriteEndObject();
            w.WriteString("ExecutionLog", log);
            w.WriteStartArray("ExecutionDetail");
            if (started is not null)
            {
                var entityState = !final ? 2 : state is 5 ? 4 : 3;
                w.WriteStartObject();
                w.WriteString("EntityName", import.Entity ?? "");
                w.WriteString("Company", import.Company ?? "");
                w.WriteNumber("StagingRecords", final ? Math.Max(1, errors) : 0);
                w.WriteNumber("StagingStatus", entityState);
                w.WriteNumber("StagingErrorCount", 0);
                w.WriteNumber("TargetRecords", final && state == 5 ? 1 : 0);
                w.WriteNumber("TargetStatus", entityState);
                w.WriteNumber("TargetErrorCount", errors);
                w.WriteString("ExecutionStartedDateTime", Date(started));
                w.WriteString("ExecutionCompletedDateTime", Date(completed));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>Reads the activity id (bare, braced, or braced and URL-encoded: the path arrives decoded) and answers
    /// itself when it is not a known activity of the expected kind: the all-zero id, which no recurring job has, gets the
    /// service's 500 (the scheduler's connection check calls dequeue with it and reads 500 as "access works"); any other
    /// unknown or wrong-kind id a 400 naming it.</summary>
    private async Task<EmulatorActivity?> ResolveActivityAsync(HttpContext context, string segment, ActivityKind kind)
    {
        if (Guid.TryParse(segment, out var id))
        {
            foreach (var activity in _options.Activities)
            {
                if (activity.Id == id && activity.Kind == kind)
                    return activity;
            }
            if (id == Guid.Empty)
            {
                await Wire.WriteODataErrorAsync(context, 500, $"Object reference not set to an instance of an object. No recurring data job has the activity id '{segment}'.");
                return null;
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
            : $"{context.Request.Scheme}://{host}{Wire.PortSuffix(context)}";
        return $"{authority}{context.Request.PathBase}/api/connector/download/%7B{message.ActivityId}%7D?correlation-id={message.CorrelationId}&blob={message.BlobId}";
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
        // Most files carry no marker: a search of the bytes tells so without decoding them line by line (a UTF-8 or ASCII
        // marker is these bytes wherever it stands). Files with a UTF-16 or UTF-32 byte order mark are always read.
        var bytes = content.AsSpan();
        if (!HasWideByteOrderMark(content) && bytes.IndexOf(ErrorMarkerBytes) < 0 && bytes.IndexOf(PreprocessingErrorMarkerBytes) < 0)
            return false;
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

    private static readonly byte[] ErrorMarkerBytes = Encoding.ASCII.GetBytes(ErrorMarker);
    private static readonly byte[] PreprocessingErrorMarkerBytes = Encoding.ASCII.GetBytes(PreprocessingErrorMarker);

    private static bool HasWideByteOrderMark(byte[] content) =>
        content.Length >= 2 && ((content[0] == 0xFF && content[1] == 0xFE) || (content[0] == 0xFE && content[1] == 0xFF))
        || content.Length >= 4 && content[0] == 0 && content[1] == 0 && content[2] == 0xFE && content[3] == 0xFF;

    private static Task TooLargeAsync(HttpContext context, long limit) =>
        Wire.WriteODataErrorAsync(context, 413, $"The request body is larger than the {limit} bytes this environment accepts.");

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
