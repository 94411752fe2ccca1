using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>One completion of -EntityName: the text inserted, the text listed and the tooltip.</summary>
    internal sealed class EntityNameMatch
    {
        public EntityNameMatch(string completionText, string listItemText, string toolTip)
        {
            CompletionText = completionText;
            ListItemText = listItemText;
            ToolTip = toolTip;
        }

        public string CompletionText { get; }
        public string ListItemText { get; }
        public string ToolTip { get; }
    }

    /// <summary>
    /// What -EntityName completes to, apart from PowerShell's completion types so it can be tested without a PowerShell host.
    /// </summary>
    internal static class EntityNameMatcher
    {
        private static readonly char[] NeedsQuotes = { ' ', '\'', '"', '$', '`', ';', '(', ')', '{', '}', ',', '&', '@', '#', '\u2018', '\u2019' };

        /// <summary>
        /// The display names of the entities usable by data management whose display name or name starts with the word (quotes
        /// stripped), else contains it, in order; quoted where PowerShell needs it, the tooltip naming the entity, its
        /// collection and category.
        /// </summary>
        public static IEnumerable<EntityNameMatch> Match(IReadOnlyList<DataEntity> entities, string? wordToComplete)
        {
            var word = (wordToComplete ?? string.Empty).Trim('\'', '"');
            var usable = entities.Where(e => e.DataManagementEnabled && !string.IsNullOrEmpty(e.DisplayName)).ToArray();
            var matches = usable.Where(e => e.DisplayName!.StartsWith(word, StringComparison.OrdinalIgnoreCase) ||
                                            e.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase)).ToArray();
            if (matches.Length == 0)
                matches = usable.Where(e => e.DisplayName!.IndexOf(word, StringComparison.OrdinalIgnoreCase) >= 0 ||
                                            e.Name.IndexOf(word, StringComparison.OrdinalIgnoreCase) >= 0).ToArray();
            return matches
                .OrderBy(e => e.DisplayName, StringComparer.OrdinalIgnoreCase)
                .Select(e => new EntityNameMatch(Quoted(e.DisplayName!), e.DisplayName!,
                    e.Name + " (" + (e.PublicCollectionName ?? e.PublicEntityName ?? "") + ", " + (e.Category ?? "") + ")"));
        }

        /// <summary>The name as PowerShell reads it back: single-quoted (quotes doubled) when it holds a space or a special character.</summary>
        public static string Quoted(string name) =>
            name.IndexOfAny(NeedsQuotes) < 0 ? name : "'" + name.Replace("'", "''").Replace("\u2018", "\u2018\u2018").Replace("\u2019", "\u2019\u2019") + "'";
    }
}
