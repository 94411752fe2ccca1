using System.Text.Json;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>Case-insensitive reads: the service's casing varies (IsDownLoadFileExist), so names are never matched exactly.</summary>
    internal static class Json
    {
        public static bool TryGetProperty(JsonElement element, string name, out JsonElement value)
        {
            if (element.TryGetProperty(name, out value)) return true;
            foreach (var property in element.EnumerateObject())
            {
                if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    value = property.Value;
                    return true;
                }
            }
            value = default;
            return false;
        }

        public static string? GetString(JsonElement element, string name) =>
            TryGetProperty(element, name, out var value) ? ValueAsText(value) : null;

        /// <summary>A scalar as text (strings unquoted); null for null; raw JSON for objects and arrays.</summary>
        public static string? ValueAsText(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => value.GetRawText(),
        };
    }
}
