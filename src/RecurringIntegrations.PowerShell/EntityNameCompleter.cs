using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Runtime.CompilerServices;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Tab completion of -EntityName from the session's data entities (GET /Metadata/DataEntities), fetched once per session
    /// on the first completion. Completion runs on the host's completion thread, not in a cmdlet: the fetch runs on the thread
    /// pool (Core never needs this thread back, so nothing can deadlock) and completion waits for it a few seconds at most;
    /// a list not there yet completes nothing this time and is there the next. A fetch that failed is tried again next time.
    /// </summary>
    public sealed class EntityNameCompleter : IArgumentCompleter
    {
        private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
        private static readonly ConditionalWeakTable<D365Session, Task<IReadOnlyList<DataEntity>>> Lists =
            new ConditionalWeakTable<D365Session, Task<IReadOnlyList<DataEntity>>>();

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var session = SessionOf(fakeBoundParameters) ?? D365Session.Default;
            if (session is null) return Array.Empty<CompletionResult>();
            var list = Lists.GetValue(session, s => Task.Run(() => new MetadataClient(s).GetDataEntitiesAsync(CancellationToken.None)));
            try
            {
                if (!list.Wait(Patience)) return Array.Empty<CompletionResult>();
            }
            catch (AggregateException)
            {
                Lists.Remove(session);
                return Array.Empty<CompletionResult>();
            }
            return Complete(list.Result, wordToComplete);
        }

        /// <summary>Entities usable by data management whose name starts with the word (quotes stripped), else contains it.</summary>
        internal static IEnumerable<CompletionResult> Complete(IReadOnlyList<DataEntity> entities, string? wordToComplete)
        {
            var word = (wordToComplete ?? string.Empty).Trim('\'', '"');
            var usable = entities.Where(e => e.DataManagementEnabled && e.Name.Length > 0).ToArray();
            var matches = usable.Where(e => e.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase)).ToArray();
            if (matches.Length == 0) matches = usable.Where(e => e.Name.IndexOf(word, StringComparison.OrdinalIgnoreCase) >= 0).ToArray();
            return matches
                .OrderBy(e => e.Name, StringComparer.OrdinalIgnoreCase)
                .Select(e => new CompletionResult(Quoted(e.Name), e.Name, CompletionResultType.ParameterValue,
                    e.Name + " (" + (e.PublicCollectionName ?? e.PublicEntityName ?? "") + ", " + (e.Category ?? "") + ")"));
        }

        private static string Quoted(string name) =>
            name.IndexOfAny(new[] { ' ', '\'', '"', '$', '`', ';', '(', ')', '{', '}', ',', '&', '@', '#' }) < 0 ? name : "'" + name.Replace("'", "''") + "'";

        private static D365Session? SessionOf(IDictionary fakeBoundParameters)
        {
            var value = fakeBoundParameters?["Session"];
            return (value is PSObject wrapped ? wrapped.BaseObject : value) as D365Session;
        }
    }
}
