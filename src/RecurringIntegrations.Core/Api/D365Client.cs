using System.Globalization;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Api
{
    /// <summary>
    /// The recurring-integration API (docs/protocol.md, "Connector: enqueue" to "Execution errors") over one session.
    /// Thread-safe: parallel calls share the session's connections and token. <paramref name="verbose"/> receives one line
    /// per HTTP call and per retry.
    /// </summary>
    public sealed class D365Client
    {
        private const string DataActions = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.";
        private static readonly Encoding Utf8 = new UTF8Encoding(false);
        private readonly D365Session _session;
        private readonly Action<string>? _verbose;

        public D365Client(D365Session session, Action<string>? verbose = null)
        {
            _session = session ?? throw new ArgumentNullException(nameof(session));
            if (session.IsDisposed)
                throw ErrorCatalog.SessionClosed.Create();
            _verbose = verbose;
        }

        private HttpPipeline Pipeline => _session.Pipeline;
        private TimeSpan Timeout => _session.Retry.RequestTimeout;

        /// <summary>
        /// Uploads one file, streamed from disk, and returns the message id the service gave it. Sent again only when the
        /// service cannot have taken it; otherwise EnqueueOutcomeUnknown.
        /// </summary>
        public async Task<Guid> EnqueueAsync(Guid activityId, string filePath, string? entityName, string? company,
            string? externalIdentifier, CancellationToken cancellationToken)
        {
            var length = FileChecks.ReadableFileLength(filePath);
            var query = new StringBuilder();
            if (!string.IsNullOrWhiteSpace(entityName)) query.Append(query.Length == 0 ? '?' : '&').Append("entity=").Append(Uri.EscapeDataString(entityName!.Trim()));
            if (!string.IsNullOrWhiteSpace(company)) query.Append(query.Length == 0 ? '?' : '&').Append("company=").Append(Uri.EscapeDataString(company!.Trim()));
            var uri = EnvironmentAddress.Combine(_session.EnvironmentUri, "/api/connector/enqueue/" + activityId.ToString("D") + query);
            var message = Pipeline.CreateMessage("Enqueue", () => UploadRequest(uri, filePath, length, externalIdentifier), ReadMessageIdAsync, _verbose);
            message.Resend = UploadResendRule.Instance;
            // A slow link must still finish a large file: the try's time limit grows with the file (at least 256 KB/s).
            message.TryTimeout = Timeout + TimeSpan.FromSeconds(length / 262144.0);
            try
            {
                return await Pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
            }
            catch (ResendRefusedException refused)
            {
                throw ErrorCatalog.EnqueueOutcomeUnknown.FromService(refused.StatusCode, null, refused.InnerException,
                    $"{refused.Message} Sent {refused.Tries} and not again, to avoid a duplicate message.", " The file was left in place.");
            }
        }

        /// <summary>Takes the next message off an export queue; null when the queue is empty (204).</summary>
        public Task<DequeueResult?> DequeueAsync(Guid activityId, CancellationToken cancellationToken)
        {
            var uri = EnvironmentAddress.Combine(_session.EnvironmentUri, "/api/connector/dequeue/" + activityId.ToString("D"));
            return Pipeline.SendAsync(Pipeline.CreateMessage("Dequeue", () => new HttpRequestMessage(HttpMethod.Get, uri),
                (response, _) => ReadDequeueAsync(activityId, response), _verbose), cancellationToken);
        }

        /// <summary>
        /// Downloads a dequeued message's file into <paramref name="outputDirectory"/>: first to a hidden partial file, then,
        /// only once it is complete and flushed to disk, moved to its final name. A failure leaves no file behind. A file the
        /// service says is gone is not asked for; it, and one the storage answers 404 BlobNotFound for, is ExportFileMissing.
        /// </summary>
        public async Task<SavedFile> DownloadAsync(DequeueResult message, string outputDirectory, bool overwrite, CancellationToken cancellationToken)
        {
            if (message is null) throw new ArgumentNullException(nameof(message));
            if (!message.IsDownloadFileExist)
                throw ExportFileMissing(message, message.FileDownloadErrorMessage, null);
            var location = EnvironmentAddress.ResolveDownloadLocation(_session.EnvironmentUri, message.DownloadLocation);
            var directory = FileChecks.PrepareOutputDirectory(outputDirectory);

            var download = Pipeline.CreateMessage("Download", () => new HttpRequestMessage(HttpMethod.Get, location),
                (response, tryToken) => DownloadFiles.SaveAsync(response, message, directory, overwrite, Timeout, _session.Time, tryToken), _verbose);
            download.StreamResponse = true;
            try
            {
                return await Pipeline.SendAsync(download, cancellationToken).ConfigureAwait(false);
            }
            catch (D365Exception ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound &&
                                           (ex.ServiceMessage ?? string.Empty).StartsWith("BlobNotFound", StringComparison.Ordinal))
            {
                // Storage's own answer that the blob is gone; any other 404 is a failed download like the rest.
                throw ExportFileMissing(message, ex.ServiceMessage ?? message.FileDownloadErrorMessage, ex);
            }
        }

        private static D365Exception ExportFileMissing(DequeueResult message, string? serviceText, Exception? inner) =>
            ErrorCatalog.ExportFileMissing.FromService(inner is D365Exception { StatusCode: { } status } ? status : null,
                string.IsNullOrWhiteSpace(serviceText) ? null : serviceText, inner, message.CorrelationId, message.ActivityId);

        /// <summary>Acknowledges a dequeued message by sending back the dequeue answer unchanged. Retried: an ack is harmless to repeat.</summary>
        public Task AcknowledgeAsync(Guid activityId, string dequeueResponse, CancellationToken cancellationToken)
        {
            if (string.IsNullOrWhiteSpace(dequeueResponse))
                throw ErrorCatalog.AckBodyMissing.Create();
            var uri = EnvironmentAddress.Combine(_session.EnvironmentUri, "/api/connector/ack/" + activityId.ToString("D"));
            return Pipeline.SendAsync(Pipeline.CreateMessage("Acknowledge", () => new HttpRequestMessage(HttpMethod.Post, uri)
            {
                Content = new StringContent(dequeueResponse, Utf8, "application/json"),
            }, (_, _) => Task.FromResult(true), _verbose), cancellationToken);
        }

        /// <summary>The minimal ack body Microsoft's own scheduler sends, for messages whose original answer is not at hand.</summary>
        public static string BuildAckBody(Guid correlationId, string popReceipt, string? downloadLocation)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("CorrelationId", correlationId.ToString("D"));
                writer.WriteString("PopReceipt", popReceipt);
                writer.WriteString("DownloadLocation", downloadLocation);
                writer.WriteEndObject();
            }
            return Utf8.GetString(buffer.ToArray());
        }

        public async Task<string> GetMessageStatusAsync(Guid messageId, CancellationToken cancellationToken)
        {
            var value = await CallActionAsync("GetMessageStatus", new MessageIdBody(messageId.ToString("D")), cancellationToken).ConfigureAwait(false);
            if (value.ValueKind != JsonValueKind.String)
                throw ResponseErrors.MalformedJson("GetMessageStatus", "value is not a string");
            return value.GetString() ?? string.Empty;
        }

        /// <summary>The execution id of a message, or null while the batch has not picked it up (empty or the all-zero GUID).</summary>
        public async Task<string?> GetExecutionIdAsync(Guid messageId, CancellationToken cancellationToken)
        {
            var value = await CallActionAsync("GetExecutionIdByMessageId", new UnderscoreMessageIdBody(messageId.ToString("D")), cancellationToken).ConfigureAwait(false);
            var text = Json.ValueAsText(value)?.Trim();
            if (string.IsNullOrEmpty(text) || (Guid.TryParse(text, out var id) && id == Guid.Empty)) return null;
            return text;
        }

        /// <summary>The errors of an execution; empty when there are none. The service's value is a string holding JSON: parsed twice.</summary>
        public async Task<IReadOnlyList<ExecutionError>> GetExecutionErrorsAsync(string executionId, CancellationToken cancellationToken)
        {
            if (string.IsNullOrWhiteSpace(executionId))
                throw ErrorCatalog.ExecutionIdMissing.Create();
            var value = await CallActionAsync("GetExecutionErrors", new ExecutionIdBody(executionId), cancellationToken).ConfigureAwait(false);
            return ExecutionErrors.Parse(executionId, value);
        }

        private Task<JsonElement> CallActionAsync<TBody>(string action, TBody body, CancellationToken cancellationToken) =>
            PostActionAsync(action, JsonSerializer.Serialize(body, WireJson.Options), ResendRule.Always, cancellationToken);

        /// <summary>
        /// Posts one OData action of the data entities (a JSON body) and returns the answer's 'value'; also the package API's
        /// way in. With a resend rule that refuses, a <see cref="ResendRefusedException"/> for the caller to name.
        /// </summary>
        internal Task<JsonElement> PostActionAsync(string action, string json, ResendRule resend, CancellationToken cancellationToken)
        {
            var uri = EnvironmentAddress.Combine(_session.EnvironmentUri, DataActions + action);
            var message = Pipeline.CreateMessage(action, () => new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(json, Utf8, "application/json") },
                async (response, _) =>
                {
                    var wire = await ReadJsonAsync<ODataValue>(action, response).ConfigureAwait(false);
                    if (wire is null || wire.Value.ValueKind == JsonValueKind.Undefined)
                        throw ResponseErrors.MalformedJson(action, "no 'value' property");
                    return wire.Value.Clone();
                }, _verbose);
            message.Resend = resend;
            return Pipeline.SendAsync(message, cancellationToken);
        }

        private static HttpRequestMessage UploadRequest(Uri uri, string filePath, long length, string? externalIdentifier)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new FileUploadContent(filePath, length) };
            if (!string.IsNullOrWhiteSpace(externalIdentifier))
                request.Headers.TryAddWithoutValidation("x-ms-dyn-externalidentifier", AsciiHeaderValue(externalIdentifier!));
            return request;
        }

        private static async Task<Guid> ReadMessageIdAsync(HttpResponseMessage response, CancellationToken cancellationToken)
        {
            var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            if (TryReadMessageId(body, out var messageId)) return messageId;
            if (ResponseErrors.LooksLikeHtml(response.Content.Headers.ContentType?.MediaType, body))
                throw ResponseErrors.WebPageInsteadOfJson("Enqueue", body, response.StatusCode);
            throw ErrorCatalog.EnqueueOutcomeUnknown.Create($"Enqueue: the service answered 200 but not with a message id ('{Shorten(body)}').", " The file was left in place and not sent again.");
        }

        private static async Task<T?> ReadJsonAsync<T>(string operation, HttpResponseMessage response) where T : class
        {
            var body = response.Content is null ? string.Empty : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            return body.Trim().Length == 0 ? null : ParseJson<T>(operation, body, response);
        }

        /// <summary>The answer's JSON read into a wire record; a web page or malformed JSON is named as such.</summary>
        private static T ParseJson<T>(string operation, string body, HttpResponseMessage response) where T : class
        {
            if (ResponseErrors.LooksLikeHtml(response.Content?.Headers.ContentType?.MediaType, body))
                throw ResponseErrors.WebPageInsteadOfJson(operation, body, response.StatusCode);
            try
            {
                return JsonSerializer.Deserialize<T>(body, WireJson.Options) ?? throw ResponseErrors.MalformedJson(operation, "null instead of an object");
            }
            catch (JsonException ex)
            {
                throw ResponseErrors.MalformedJson(operation, ex.Message);
            }
        }

        internal static bool TryReadMessageId(string body, out Guid messageId)
        {
            var text = body.Trim();
            if (text.StartsWith("\"", StringComparison.Ordinal))
            {
                try
                {
                    text = JsonSerializer.Deserialize<string>(text) ?? string.Empty;
                }
                catch (JsonException)
                {
                    text = string.Empty;
                }
            }
            return Guid.TryParse(text, out messageId) && messageId != Guid.Empty;
        }

        private async Task<DequeueResult?> ReadDequeueAsync(Guid activityId, HttpResponseMessage response)
        {
            if (response.StatusCode == System.Net.HttpStatusCode.NoContent) return null;
            var body = response.Content is null ? string.Empty : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            if (body.Trim().Length == 0) return null;
            if (!body.TrimStart().StartsWith("{", StringComparison.Ordinal) && !ResponseErrors.LooksLikeHtml(response.Content!.Headers.ContentType?.MediaType, body))
                throw ResponseErrors.MalformedJson("Dequeue", "not a JSON object");
            var wire = ParseJson<DequeueWire>("Dequeue", body, response);
            if (!Guid.TryParse(wire.CorrelationId, out var correlationId))
                throw ResponseErrors.MalformedJson("Dequeue", "no CorrelationId");
            var exists = wire.IsDownLoadFileExist.ValueKind switch
            {
                JsonValueKind.Undefined => true,
                JsonValueKind.True => true,
                JsonValueKind.String => string.Equals(wire.IsDownLoadFileExist.GetString(), "true", StringComparison.OrdinalIgnoreCase),
                _ => false,
            };
            DateTimeOffset? lastDequeue = DateTimeOffset.TryParse(wire.LastDequeueDateTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
                ? parsed : null;
            return new DequeueResult
            {
                ActivityId = activityId,
                CorrelationId = correlationId,
                PopReceipt = wire.PopReceipt ?? string.Empty,
                DownloadLocation = wire.DownloadLocation,
                IsDownloadFileExist = exists,
                FileDownloadErrorMessage = wire.FileDownLoadErrorMessage,
                LastDequeueDateTime = lastDequeue,
                DequeuedAt = _session.Time.GetLocalNow(),
                RawJson = body,
            };
        }

        /// <summary>HTTP headers carry ASCII only: other characters of a file name become '_'.</summary>
        private static string AsciiHeaderValue(string text)
        {
            var builder = new StringBuilder(text.Length);
            foreach (var c in text) builder.Append(c >= 0x20 && c < 0x7f ? c : '_');
            return builder.ToString();
        }

        private static string Shorten(string text) => text.Length > 200 ? text.Substring(0, 200) + "..." : text;
    }
}
