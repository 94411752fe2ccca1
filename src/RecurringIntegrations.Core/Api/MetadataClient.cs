using System.Net.Http;
using System.Text;
using System.Text.Json;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.Core.Api
{
    /// <summary>
    /// The environment's data entities: the list from the metadata (docs/protocol.md, "Data entities") and the refresh of
    /// data management's entity list. Thread-safe.
    /// </summary>
    public sealed class MetadataClient
    {
        private const string DataEntitiesPath = "/Metadata/DataEntities";
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
    }
}
