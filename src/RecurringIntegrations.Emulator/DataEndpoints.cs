using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// The OData actions on DataManagementDefinitionGroups that report on imports (docs/protocol.md, "Message status" to
/// "Execution errors").
/// </summary>
/// <remarks>
/// GetExecutionIdByMessageId answers "" during the first half of the Enqueued window and the all-zero GUID during
/// the second half, so clients meet both documented spellings of "not yet". GetExecutionErrors answers "[]" until
/// the import ends ProcessedWithErrors; it answers package executions too, and "Execution details were not found" (400)
/// for an execution id it does not know.
/// </remarks>
internal sealed class DataEndpoints(EmulatorOptions options, EmulatorState state, PackageEndpoints packages)
{
    public const string ActionPrefix = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.";
    private const int BodyLimit = 64 * 1024;
    private const long FirstStagingRecId = 5637144576;

    private readonly EmulatorOptions _options = options;
    private readonly EmulatorState _state = state;

    public void Map(IEndpointRouteBuilder routes)
    {
        MapAction(routes, "GetMessageStatus", GetMessageStatusAsync);
        MapAction(routes, "GetExecutionIdByMessageId", GetExecutionIdAsync);
        MapAction(routes, "GetExecutionErrors", GetExecutionErrorsAsync);
    }

    /// <summary>Maps POST .../Microsoft.Dynamics.DataEntities.{action}, an OData action of the environment.</summary>
    internal static void MapAction(IEndpointRouteBuilder routes, string action, RequestDelegate handler) =>
        routes.MapPost(ActionPrefix + action, handler).WithMetadata(new Operation(action, OperationAccess.Service));

    private async Task GetMessageStatusAsync(HttpContext context)
    {
        if (await ReadParameterAsync(context, "messageId") is not { } messageParameter)
            return;
        if (!Guid.TryParse(messageParameter, out var messageId) || _state.MessageStatus(messageId) is not { } status)
        {
            await Wire.WriteODataErrorAsync(context, 400, $"Message '{messageParameter}' was not found.");
            return;
        }
        await WriteValueAsync(context, status);
    }

    private async Task GetExecutionIdAsync(HttpContext context)
    {
        if (await ReadParameterAsync(context, "_messageId") is not { } importParameter)
            return;
        if (!Guid.TryParse(importParameter, out var importId) || _state.FindImport(importId) is not { } import)
        {
            await Wire.WriteODataErrorAsync(context, 400, $"Message '{importParameter}' was not found.");
            return;
        }
        await WriteValueAsync(context, ExecutionIdOf(import));
    }

    /// <summary>Errors of a package execution or of a message's execution; an id of neither is the service's "not found".</summary>
    private async Task GetExecutionErrorsAsync(HttpContext context)
    {
        if (await ReadParameterAsync(context, "executionId") is not { } executionId)
            return;
        if (packages.ErrorsJson(executionId) is { } packageErrors)
        {
            await WriteValueAsync(context, packageErrors);
            return;
        }
        if (_state.FindImportByExecutionId(executionId) is not { } import)
        {
            await Wire.WriteODataErrorAsync(context, 400, $"Execution details were not found for execution id '{executionId}'.");
            return;
        }
        await WriteValueAsync(context, ExecutionErrorsJson(import));
    }

    private string ExecutionIdOf(ImportMessage import)
    {
        var elapsed = _options.Time.GetUtcNow() - import.EnqueuedAt;
        if (elapsed >= _options.ProcessingDelay)
            return import.ExecutionId;
        return elapsed < _options.ProcessingDelay / 2 ? "" : Guid.Empty.ToString();
    }

    /// <summary>The errors as the service returns them: a JSON array serialized into a string.</summary>
    private string ExecutionErrorsJson(ImportMessage import)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, Wire.WriterOptions))
        {
            w.WriteStartArray();
            if (_state.StatusOf(import, _options.Time.GetUtcNow()) == "ProcessedWithErrors")
            {
                for (var i = 0; i < import.Errors.Count; i++)
                {
                    var error = import.Errors[i];
                    w.WriteStartObject();
                    w.WriteString("ErrorMessage", error.Message);
                    w.WriteString("EntityName", import.Entity ?? "");
                    w.WriteNumber("LineNumber", error.LineNumber);
                    w.WriteNumber("StagingRecId", FirstStagingRecId + i);
                    w.WriteString("ExecutionId", import.ExecutionId);
                    w.WriteEndObject();
                }
            }
            w.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static Task WriteValueAsync(HttpContext context, string value)
    {
        var odataContext = $"{IdentityEndpoints.Origin(context)}{context.Request.PathBase}/data/$metadata#Edm.String";
        return Wire.WriteJsonAsync(context, 200, Wire.ODataContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("@odata.context", odataContext);
            w.WriteString("value", value);
            w.WriteEndObject();
        });
    }

    /// <summary>Reads the one string parameter of an action. OData parameter names are case-sensitive, so a
    /// misspelt name is an error here as on the real service. Answers 400 itself and returns null on failure.</summary>
    private static async Task<string?> ReadParameterAsync(HttpContext context, string name)
    {
        using var body = new MemoryStream();
        var buffer = new byte[8192];
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0 && body.Length <= BodyLimit)
            body.Write(buffer, 0, read);
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
                return value.GetString();
        }
        catch (JsonException)
        {
            // Not JSON: answered below like a body without the parameter.
        }
        await Wire.WriteODataErrorAsync(context, 400, $"The request body must be a JSON object with the string parameter '{name}'.");
        return null;
    }
}
