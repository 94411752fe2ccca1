using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.Core.Api
{
    /// <summary>
    /// The environment's data entities: the list from the metadata (docs/protocol.md, "Data entities"), their display names
    /// (the texts of their labels) and the refresh of data management's entity list. Thread-safe.
    /// </summary>
    public sealed class MetadataClient
    {
        private const string DataEntitiesPath = "/Metadata/DataEntities";
        private const string LabelsPath = "/Metadata/Labels";
        /// <summary>The language labels are read in when the culture names none.</summary>
        public const string DefaultLanguage = "en-us";
        /// <summary>
        /// Label calls of one session at once. The service reads labels one at a time (it refuses $filter on Labels), so a few
        /// run together; more would take the session's throttling budget from the work that matters.
        /// </summary>
        internal const int LabelCallsAtOnce = 4;
        private static readonly ConditionalWeakTable<D365Session, LabelCache> LabelCaches = new ConditionalWeakTable<D365Session, LabelCache>();
        private const string InitializeAction = "InitializeDataManagement";
        private readonly D365Session _session;
        private readonly Action<string>? _verbose;

        public MetadataClient(D365Session session, Action<string>? verbose = null)
        {
            _session = session ?? throw new ArgumentNullException(nameof(session));
            _verbose = verbose;
        }

        /// <summary>Every data entity of the environment, page by page (@odata.nextLink), in the service's order.</summary>
        public async Task<IReadOnlyList<DataEntity>> GetDataEntitiesAsync(CancellationToken cancellationToken)
        {
            var entities = new List<DataEntity>();
            Uri? page = EnvironmentAddress.Combine(_session.EnvironmentUri, DataEntitiesPath);
            while (page != null)
            {
                var current = page;
                var message = _session.Pipeline.CreateMessage("DataEntities", () => new HttpRequestMessage(HttpMethod.Get, current),
                    async (response, _) => ReadPage(current, await response.Content.ReadAsStringAsync().ConfigureAwait(false), response, entities), _verbose);
                page = await _session.Pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
            }
            return entities;
        }

        /// <summary>
        /// The language whose label texts are the entities' names in data projects (the enqueue's entity=): the names the
        /// entity list was refreshed with, in the environment's language, en-us almost everywhere. Not the user's UI
        /// culture: a German Windows would be offered German names the service refuses.
        /// </summary>
        public static string EntityNameLanguage => DefaultLanguage;

        /// <summary>
        /// Sets each entity's <see cref="DataEntity.DisplayName"/> to the text of its label in <paramref name="language"/>
        /// (GET /Metadata/Labels(Id='...',Language='...')). Each label is read once per session and language (entities sharing a
        /// label share the call), at most <see cref="LabelCallsAtOnce"/> at a time. A label id that is not a reference (no
        /// leading @) is the text itself. An entity without a label, or whose label the service does not know (404) or could
        /// not answer, takes its public name (else its name), and a verbose line says so; only the failed calls are tried again
        /// by a later resolve.
        /// </summary>
        public async Task ResolveDisplayNamesAsync(IReadOnlyList<DataEntity> entities, string language, CancellationToken cancellationToken)
        {
            if (entities is null) throw new ArgumentNullException(nameof(entities));
            if (string.IsNullOrWhiteSpace(language)) throw new ArgumentException("A language such as en-us is required.", nameof(language));
            var cache = LabelCaches.GetValue(_session, _ => new LabelCache());
            var texts = entities
                .Where(e => IsReference(e.LabelId))
                .Select(e => e.LabelId!)
                .Distinct(StringComparer.Ordinal)
                .ToDictionary(id => id, id => cache.Read(language, id, () => ReadLabelAsync(cache, id, language, cancellationToken)), StringComparer.Ordinal);
            foreach (var entity in entities)
            {
                var fallback = string.IsNullOrEmpty(entity.PublicEntityName) ? entity.Name : entity.PublicEntityName!;
                if (string.IsNullOrWhiteSpace(entity.LabelId))
                {
                    entity.DisplayName = fallback;
                    _verbose?.Invoke($"Labels: {entity.Name} has no label; its display name is taken as '{fallback}'.");
                }
                else if (!IsReference(entity.LabelId))
                {
                    entity.DisplayName = entity.LabelId!.Trim();
                }
                else
                {
                    var outcome = await texts[entity.LabelId!].ConfigureAwait(false);
                    entity.DisplayName = outcome.Text ?? fallback;
                    if (outcome.Text is null)
                        _verbose?.Invoke($"Labels: label {entity.LabelId} of {entity.Name} could not be read in {language} ({outcome.Reason}); its display name is taken as '{fallback}'.");
                }
            }
        }

        private static bool IsReference(string? labelId) => labelId != null && labelId.TrimStart().StartsWith("@", StringComparison.Ordinal);

        private async Task<LabelOutcome> ReadLabelAsync(LabelCache cache, string id, string language, CancellationToken cancellationToken)
        {
            await cache.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var uri = EnvironmentAddress.Combine(_session.EnvironmentUri,
                    LabelsPath + "(Id='" + KeyValue(id) + "',Language='" + KeyValue(language) + "')");
                var message = _session.Pipeline.CreateMessage("Labels", () => new HttpRequestMessage(HttpMethod.Get, uri),
                    async (response, _) => ReadLabel(id, await response.Content.ReadAsStringAsync().ConfigureAwait(false), response), _verbose);
                return new LabelOutcome(await _session.Pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false), null, true);
            }
            catch (D365Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                // The service does not know the label: that stays so for the session.
                return new LabelOutcome(null, "the service does not know it", true);
            }
            catch (D365Exception ex)
            {
                return new LabelOutcome(null, ex.ErrorId + ": " + ex.Message, false);
            }
            finally
            {
                cache.Gate.Release();
            }
        }

        /// <summary>An OData key's string value: quotes doubled, escaped for the path but for the @ and : of label ids.</summary>
        private static string KeyValue(string value) =>
            Uri.EscapeDataString(value.Replace("'", "''")).Replace("%40", "@").Replace("%3A", ":");

        private static string? ReadLabel(string id, string body, HttpResponseMessage response)
        {
            if (ResponseErrors.LooksLikeHtml(response.Content?.Headers.ContentType?.MediaType, body))
                throw ResponseErrors.WebPageInsteadOfJson("Labels", body, response.StatusCode);
            try
            {
                using var document = JsonDocument.Parse(body);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    throw ResponseErrors.MalformedJson("Labels", "label " + id + " is not an object");
                var text = Json.GetString(document.RootElement, "Value");
                return string.IsNullOrWhiteSpace(text) ? null : text!.Trim();
            }
            catch (JsonException ex)
            {
                throw ResponseErrors.MalformedJson("Labels", ex.Message);
            }
        }

        /// <summary>
        /// Runs InitializeDataManagement, which refreshes data management's entity list and answers when it is done (an OData
        /// action without a result: 204). <paramref name="answerTimeout"/> is how long the call may take (null: as any call). It is never sent
        /// again once the service may have it (a refresh takes minutes): then the result says it is not known to be done.
        /// </summary>
        public async Task<DataManagementRefresh> InitializeDataManagementAsync(TimeSpan? answerTimeout, CancellationToken cancellationToken)
        {
            var refresh = new DataManagementRefresh { Environment = _session.Environment, StartedAt = _session.Time.GetLocalNow() };
            var uri = EnvironmentAddress.Combine(_session.EnvironmentUri, "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities." + InitializeAction);
            var message = _session.Pipeline.CreateMessage(InitializeAction,
                () => new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent("{}", new UTF8Encoding(false), "application/json") },
                (response, _) => Task.FromResult(true), _verbose);
            message.Resend = UploadResendRule.Instance;
            if (answerTimeout is { } timeout) message.TryTimeout = timeout;
            try
            {
                await _session.Pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
                refresh.Completed = true;
                refresh.CompletedAt = _session.Time.GetLocalNow();
            }
            catch (ResendRefusedException refused)
            {
                _verbose?.Invoke($"{InitializeAction}: {refused.Refusal}; the refresh may still be running in the environment.");
                refresh.Completed = false;
            }
            return refresh;
        }

        /// <summary>
        /// Adds the page's entities and returns the next page, which must be on the environment (the token goes there). A
        /// relative link is read against the page it came on, so an on-premises environment's path stays in it.
        /// </summary>
        private Uri? ReadPage(Uri page, string body, HttpResponseMessage response, List<DataEntity> entities)
        {
            if (ResponseErrors.LooksLikeHtml(response.Content?.Headers.ContentType?.MediaType, body))
                throw ResponseErrors.WebPageInsteadOfJson("DataEntities", body, response.StatusCode);
            try
            {
                using var document = JsonDocument.Parse(body);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !Json.TryGetProperty(root, "value", out var value) || value.ValueKind != JsonValueKind.Array)
                    throw ResponseErrors.MalformedJson("DataEntities", "no 'value' list");
                foreach (var element in value.EnumerateArray())
                    if (element.ValueKind == JsonValueKind.Object) entities.Add(Read(element));
                var next = Json.GetString(root, "@odata.nextLink");
                if (string.IsNullOrWhiteSpace(next)) return null;
                var nextUri = new Uri(page, next);
                if (!string.Equals(nextUri.Host, _session.EnvironmentUri.Host, StringComparison.OrdinalIgnoreCase) || nextUri.Port != _session.EnvironmentUri.Port)
                    throw ResponseErrors.MalformedJson("DataEntities", "@odata.nextLink leads to another host (" + nextUri.Host + ")");
                return nextUri;
            }
            catch (JsonException ex)
            {
                throw ResponseErrors.MalformedJson("DataEntities", ex.Message);
            }
        }

        private DataEntity Read(JsonElement element) => new DataEntity
        {
            Name = Json.GetString(element, "Name") ?? string.Empty,
            PublicEntityName = Json.GetString(element, "PublicEntityName"),
            PublicCollectionName = Json.GetString(element, "PublicCollectionName"),
            LabelId = Json.GetString(element, "LabelId"),
            Category = Json.GetString(element, "EntityCategory"),
            IsReadOnly = IsTrue(element, "IsReadOnly"),
            DataManagementEnabled = IsTrue(element, "DataManagementEnabled"),
            DataServiceEnabled = IsTrue(element, "DataServiceEnabled"),
            Environment = _session.Environment,
        };

        private static bool IsTrue(JsonElement element, string name) =>
            Json.TryGetProperty(element, name, out var value) &&
            (value.ValueKind == JsonValueKind.True || (value.ValueKind == JsonValueKind.String && string.Equals(value.GetString(), "true", StringComparison.OrdinalIgnoreCase)));

        /// <summary>A label's text, or null and why not; <see cref="Final"/> when asking again would answer the same.</summary>
        private sealed class LabelOutcome
        {
            public LabelOutcome(string? text, string? reason, bool final)
            {
                Text = text;
                Reason = text is null ? reason ?? "its text is empty" : null;
                Final = final;
            }

            public string? Text { get; }
            public string? Reason { get; }
            public bool Final { get; }
        }

        /// <summary>A session's labels by language and id, read once each, and the gate of its label calls.</summary>
        private sealed class LabelCache
        {
            private readonly ConcurrentDictionary<string, Lazy<Task<LabelOutcome>>> _labels = new ConcurrentDictionary<string, Lazy<Task<LabelOutcome>>>(StringComparer.Ordinal);

            public SemaphoreSlim Gate { get; } = new SemaphoreSlim(LabelCallsAtOnce);

            /// <summary>The label's outcome, read by <paramref name="read"/> on first use; a failed or cancelled read is forgotten so a later one tries again.</summary>
            public async Task<LabelOutcome> Read(string language, string id, Func<Task<LabelOutcome>> read)
            {
                var key = language.ToLowerInvariant() + "|" + id;
                var entry = _labels.GetOrAdd(key, _ => new Lazy<Task<LabelOutcome>>(read));
                try
                {
                    var outcome = await entry.Value.ConfigureAwait(false);
                    if (!outcome.Final) Forget(key, entry);
                    return outcome;
                }
                catch
                {
                    Forget(key, entry);
                    throw;
                }
            }

            // Only this entry: another caller may have started a new read under the key already.
            private void Forget(string key, Lazy<Task<LabelOutcome>> entry) =>
                ((ICollection<KeyValuePair<string, Lazy<Task<LabelOutcome>>>>)_labels).Remove(new KeyValuePair<string, Lazy<Task<LabelOutcome>>>(key, entry));
        }
    }
}
