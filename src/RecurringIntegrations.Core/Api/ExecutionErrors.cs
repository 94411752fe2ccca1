using System.Text.Json;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.Core.Api
{
    /// <summary>Reads GetExecutionErrors: its value is a string holding a JSON array (parse twice); element fields are undocumented, so all are kept.</summary>
    internal static class ExecutionErrors
    {
        private static readonly string[] MessageFields = { "ErrorMessage", "Message", "Error", "Description", "Text" };
        private static readonly string[] EntityFields = { "EntityName", "Entity", "TargetEntity" };

        public static IReadOnlyList<ExecutionError> Parse(string executionId, JsonElement value)
        {
            var errors = new List<ExecutionError>();
            if (value.ValueKind == JsonValueKind.Null) return errors;
            if (value.ValueKind == JsonValueKind.String)
            {
                var text = value.GetString();
                if (string.IsNullOrWhiteSpace(text)) return errors;
                try
                {
                    using var inner = JsonDocument.Parse(text!);
                    Collect(executionId, inner.RootElement, errors);
                }
                catch (JsonException ex)
                {
                    throw ResponseErrors.MalformedJson("GetExecutionErrors", "value does not hold JSON: " + ex.Message);
                }
                return errors;
            }
            Collect(executionId, value, errors);
            return errors;
        }

        private static void Collect(string executionId, JsonElement root, List<ExecutionError> errors)
        {
            if (root.ValueKind == JsonValueKind.Object)
            {
                errors.Add(Read(executionId, root, 1));
                return;
            }
            if (root.ValueKind != JsonValueKind.Array)
                throw ResponseErrors.MalformedJson("GetExecutionErrors", "value is neither a list nor an object");
            var index = 0;
            foreach (var element in root.EnumerateArray())
            {
                index++;
                errors.Add(element.ValueKind == JsonValueKind.Object
                    ? Read(executionId, element, index)
                    : new ExecutionError { ExecutionId = executionId, Index = index, ErrorMessage = Json.ValueAsText(element) });
            }
        }

        private static ExecutionError Read(string executionId, JsonElement element, int index)
        {
            var fields = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (var property in element.EnumerateObject()) fields[property.Name] = Json.ValueAsText(property.Value);
            var entity = First(fields, EntityFields);
            return new ExecutionError
            {
                ExecutionId = executionId,
                Index = index,
                ErrorMessage = First(fields, MessageFields),
                EntityName = entity,
                ErrorFile = entity is null ? (ErrorFileKind?)null : NamesStagingRecord(fields) ? ErrorFileKind.Staging : ErrorFileKind.Target,
                Fields = fields,
            };
        }

        /// <summary>A row that reached the staging table has a staging record id; the staging error file lists those rows.</summary>
        private static bool NamesStagingRecord(Dictionary<string, string?> fields) =>
            fields.TryGetValue("StagingRecId", out var recId) && long.TryParse(recId, out var id) && id != 0;

        private static string? First(Dictionary<string, string?> fields, string[] names)
        {
            foreach (var name in names)
                if (fields.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value)) return value;
            return null;
        }
    }
}
