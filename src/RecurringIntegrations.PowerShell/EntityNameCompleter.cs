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
    /// Tab completion of -EntityName from the session's data entities (GET /Metadata/DataEntities), offering their display
    /// names ('Customer groups', the name enqueue and packages take) read from their labels in en-us. The
    /// list and its labels are fetched once per session, on the first completion. Completion runs on the host's completion thread, not in a cmdlet: the fetch runs on the thread
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
            var language = MetadataClient.EntityNameLanguage;
            var list = Lists.GetValue(session, s => Task.Run(() => FetchAsync(s, language)));
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

        /// <summary>Only the entities data management can use need their labels, which are read one call each.</summary>
        private static async Task<IReadOnlyList<DataEntity>> FetchAsync(D365Session session, string language)
        {
            var client = new MetadataClient(session);
            var usable = (await client.GetDataEntitiesAsync(CancellationToken.None).ConfigureAwait(false))
                .Where(e => e.DataManagementEnabled && e.Name.Length > 0).ToArray();
            await client.ResolveDisplayNamesAsync(usable, language, CancellationToken.None).ConfigureAwait(false);
            return usable;
        }

        internal static IEnumerable<CompletionResult> Complete(IReadOnlyList<DataEntity> entities, string? wordToComplete) =>
            EntityNameMatcher.Match(entities, wordToComplete)
                .Select(m => new CompletionResult(m.CompletionText, m.ListItemText, CompletionResultType.ParameterValue, m.ToolTip));

        private static D365Session? SessionOf(IDictionary fakeBoundParameters)
        {
            var value = fakeBoundParameters?["Session"];
            return (value is PSObject wrapped ? wrapped.BaseObject : value) as D365Session;
        }
    }
}
