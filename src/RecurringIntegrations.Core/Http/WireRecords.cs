using System.Text.Json;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// The dequeue answer exactly as the service sends it (docs/protocol.md, "Connector: dequeue"; note the capital L twice).
    /// </summary>
    internal sealed record DequeueWire(
        string? CorrelationId,
        string? PopReceipt,
        string? DownloadLocation,
        JsonElement IsDownLoadFileExist,
        string? FileDownLoadErrorMessage,
        string? LastDequeueDateTime);

    /// <summary>An OData action's answer: <c>{"@odata.context": "...", "value": ...}</c>; value's type depends on the action.</summary>
    internal sealed record ODataValue(JsonElement Value);

    /// <summary>
    /// Request bodies of the OData actions (docs/protocol.md, "Message status" to "Execution errors"); the names are the
    /// service's.
    /// </summary>
    internal sealed record MessageIdBody(string messageId);

    internal sealed record UnderscoreMessageIdBody(string _messageId);

    internal sealed record ExecutionIdBody(string executionId);

    internal static class WireJson
    {
        /// <summary>Case-insensitive, tolerant of unknown fields: the service's casing varies.</summary>
        public static readonly JsonSerializerOptions Options = new JsonSerializerOptions { PropertyNameCaseInsensitive = true };
    }
}
