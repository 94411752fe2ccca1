using System.Text;
using System.Text.Json;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Core.Packages
{
    /// <summary>
    /// The Data management package API (docs/protocol.md, "Package API") over a session: the OData actions go through the
    /// session's pipeline (token, retries, verbose), the blob transfers through <see cref="BlobStorage"/> (no token). Thread-safe.
    /// </summary>
    public sealed class DataPackageClient
    {
        private static readonly Encoding Utf8 = new UTF8Encoding(false);
        private readonly D365Client _actions;
        private readonly Action<string>? _verbose;
        private volatile bool _lacksAsyncActions;

        public DataPackageClient(D365Session session, Action<string>? verbose = null)
        {
            _actions = new D365Client(session, verbose);
            _verbose = verbose;
            Session = session;
            Storage = new BlobStorage(session, verbose);
        }

        internal BlobStorage Storage { get; }
        internal D365Session Session { get; }

        /// <summary>A writable blob for a package: its id and its SAS URL. The service's value is a string holding JSON.</summary>
        public async Task<(string BlobId, Uri BlobUrl)> GetAzureWriteUrlAsync(string uniqueFileName, CancellationToken cancellationToken)
        {
            var value = await PostActionAsync("GetAzureWriteUrl", w => w.WriteString("uniqueFileName", uniqueFileName), ResendRule.Always, cancellationToken).ConfigureAwait(false);
            var text = Json.ValueAsText(value);
            try
            {
                using var document = JsonDocument.Parse(text ?? string.Empty);
                var blobId = Json.GetString(document.RootElement, "BlobId") ?? string.Empty;
                return (blobId, SasUrl.Parse(Json.GetString(document.RootElement, "BlobUrl"), "GetAzureWriteUrl"));
            }
            catch (Exception ex) when (ex is JsonException || ex is InvalidOperationException)
            {
                throw ResponseErrors.MalformedJson("GetAzureWriteUrl", "value does not hold the JSON {BlobId, BlobUrl}");
            }
        }

        /// <summary>
        /// Starts the import of an uploaded package with ImportFromPackageAsync, which answers the execution id at once (the
        /// synchronous action can hold its call for minutes, which proxies cut). Falls back to ImportFromPackage only where the
        /// environment lacks the asynchronous action (404). Never sent twice once the service may have it: a second call would
        /// start a second import of the same data.
        /// </summary>
        public async Task<string> ImportFromPackageAsync(Uri packageUrl, string definitionGroupId, string? executionId, bool execute,
            bool overwrite, string legalEntityId, CancellationToken cancellationToken)
        {
            void Body(Utf8JsonWriter w)
            {
                w.WriteString("packageUrl", packageUrl.ToString());
                w.WriteString("definitionGroupId", definitionGroupId);
                w.WriteString("executionId", executionId ?? string.Empty);
                w.WriteBoolean("execute", execute);
                w.WriteBoolean("overwrite", overwrite);
                w.WriteString("legalEntityId", legalEntityId);
            }
            return await StartAsync("ImportFromPackage", Body, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Starts an export of a data project into a package (ExportToPackageAsync, else ExportToPackage). Like an import, never repeated once the service may have it.</summary>
        public async Task<string> ExportToPackageAsync(string definitionGroupId, string packageName, string? executionId, bool reExecute,
            string legalEntityId, CancellationToken cancellationToken)
        {
            void Body(Utf8JsonWriter w)
            {
                w.WriteString("definitionGroupId", definitionGroupId);
                w.WriteString("packageName", packageName);
                w.WriteString("executionId", executionId ?? string.Empty);
                w.WriteBoolean("reExecute", reExecute);
                w.WriteString("legalEntityId", legalEntityId);
            }
            return await StartAsync("ExportToPackage", Body, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// The asynchronous form of a start action, or the synchronous one where the environment answers 404 for it (older
        /// versions; docs/protocol.md, "Package API"). A 404 is an answer: the service started nothing, so the fallback cannot
        /// run the work twice. Once seen, the client goes straight to the synchronous form.
        /// </summary>
        private async Task<string> StartAsync(string action, Action<Utf8JsonWriter> writeBody, CancellationToken cancellationToken)
        {
            if (!_lacksAsyncActions)
            {
                try
                {
                    var started = await PostActionAsync(action + "Async", writeBody, UploadResendRule.Instance, cancellationToken).ConfigureAwait(false);
                    return RequireExecutionId(action + "Async", started);
                }
                catch (D365Exception ex) when (ex.Entry == ErrorCatalog.NotFound)
                {
                    _lacksAsyncActions = true;
                    _verbose?.Invoke($"{action}Async: this environment does not have it (404); using {action}, which answers when the work is done.");
                }
            }
            var value = await PostActionAsync(action, writeBody, UploadResendRule.Instance, cancellationToken).ConfigureAwait(false);
            return RequireExecutionId(action, value);
        }

        /// <summary>The SAS URL of an exported package, or null while it is not ready.</summary>
        public async Task<Uri?> GetExportedPackageUrlAsync(string executionId, CancellationToken cancellationToken)
        {
            var text = await PostTextAsync("GetExportedPackageUrl", "executionId", executionId, cancellationToken).ConfigureAwait(false);
            return string.IsNullOrWhiteSpace(text) ? null : SasUrl.Parse(text, "GetExportedPackageUrl");
        }

        /// <summary>Unknown, NotRun, Executing, Succeeded, PartiallySucceeded, Failed or Canceled; kept as the service gives it.</summary>
        public async Task<string> GetExecutionSummaryStatusAsync(string executionId, CancellationToken cancellationToken) =>
            await PostTextAsync("GetExecutionSummaryStatus", "executionId", executionId, cancellationToken).ConfigureAwait(false) ?? string.Empty;

        public Task<string?> GetExecutionSummaryPageUrlAsync(string executionId, CancellationToken cancellationToken) =>
            PostTextAsync("GetExecutionSummaryPageUrl", "executionId", executionId, cancellationToken);

        /// <summary>Asks the service to write the keys of the records that failed in the target; false when the entity has no such errors.</summary>
        public async Task<bool> GenerateImportTargetErrorKeysFileAsync(string executionId, string entityName, CancellationToken cancellationToken)
        {
            var value = Unwrap(await PostActionAsync("GenerateImportTargetErrorKeysFile", w =>
            {
                w.WriteString("executionId", executionId);
                w.WriteString("entityName", entityName);
            }, ResendRule.Always, cancellationToken).ConfigureAwait(false));
            return value.ValueKind == JsonValueKind.True ||
                   (value.ValueKind == JsonValueKind.String && string.Equals(value.GetString(), "true", StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>The SAS URL of the error keys file, or null while the service is still writing it.</summary>
        public async Task<Uri?> GetImportTargetErrorKeysFileUrlAsync(string executionId, string entityName, CancellationToken cancellationToken)
        {
            var value = Unwrap(await PostActionAsync("GetImportTargetErrorKeysFileUrl", w =>
            {
                w.WriteString("executionId", executionId);
                w.WriteString("entityName", entityName);
            }, ResendRule.Always, cancellationToken).ConfigureAwait(false));
            var text = Json.ValueAsText(value);
            return string.IsNullOrWhiteSpace(text) ? null : SasUrl.Parse(text, "GetImportTargetErrorKeysFileUrl");
        }

        /// <summary>The SAS URL of an entity's staging error file (the rows that failed before the target), or null when there is none.</summary>
        public async Task<Uri?> GetImportStagingErrorFileUrlAsync(string executionId, string entityName, CancellationToken cancellationToken)
        {
            var value = Unwrap(await PostActionAsync("GetImportStagingErrorFileUrl", w =>
            {
                w.WriteString("executionId", executionId);
                w.WriteString("entityName", entityName);
            }, ResendRule.Always, cancellationToken).ConfigureAwait(false));
            var text = Json.ValueAsText(value);
            return string.IsNullOrWhiteSpace(text) ? null : SasUrl.Parse(text, "GetImportStagingErrorFileUrl");
        }

        private async Task<string?> PostTextAsync(string action, string parameter, string argument, CancellationToken cancellationToken) =>
            Json.ValueAsText(Unwrap(await PostActionAsync(action, w => w.WriteString(parameter, argument), ResendRule.Always, cancellationToken).ConfigureAwait(false)))?.Trim();

        /// <summary>
        /// The one place an action is posted: a camelCase JSON body, the answer's 'value' read back. Calls that start work are
        /// sent with <see cref="UploadResendRule"/> (again only when the service cannot have taken them), and when it may have, the
        /// error is PackageOutcomeUnknown.
        /// </summary>
        private async Task<JsonElement> PostActionAsync(string action, Action<Utf8JsonWriter> writeBody, ResendRule replay, CancellationToken cancellationToken)
        {
            string requestBody;
            using (var buffer = new MemoryStream())
            {
                using (var writer = new Utf8JsonWriter(buffer))
                {
                    writer.WriteStartObject();
                    writeBody(writer);
                    writer.WriteEndObject();
                }
                requestBody = Utf8.GetString(buffer.ToArray());
            }
            try
            {
                return await _actions.PostActionAsync(action, requestBody, replay, cancellationToken).ConfigureAwait(false);
            }
            catch (ResendRefusedException refused)
            {
                throw ErrorCatalog.PackageOutcomeUnknown.FromService(refused.StatusCode, null, refused.InnerException, action, refused.Refusal, refused.Tries);
            }
            catch (D365Exception ex) when (ex.Message.IndexOf("sig=", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                // The service may echo the package URL in its error text: the signature must not reach an error record.
                throw ex.WithMessage(SasUrl.Redact(ex.BaseMessage)!, SasUrl.Redact(ex.ServiceMessage));
            }
        }

        /// <summary>The docs show value.value for some actions while Microsoft's own code reads a flat value: both are accepted.</summary>
        private static JsonElement Unwrap(JsonElement value) =>
            value.ValueKind == JsonValueKind.Object && Json.TryGetProperty(value, "value", out var inner) ? inner : value;

        private static string RequireExecutionId(string action, JsonElement value)
        {
            var id = Json.ValueAsText(Unwrap(value))?.Trim();
            if (string.IsNullOrEmpty(id))
                throw ResponseErrors.MalformedJson(action, "no execution id in 'value'");
            return id!;
        }
    }
}
