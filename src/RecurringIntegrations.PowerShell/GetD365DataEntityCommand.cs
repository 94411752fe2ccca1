using System.Management.Automation;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Get-D365DataEntity: the environment's data entities from its metadata (GET /Metadata/DataEntities, every page), one
    /// DataEntity each: the entity name, its display name (the text of its label in en-us, the language data projects name entities in, read once per
    /// session), its OData names, category and whether it is read-only.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "D365DataEntity")]
    [OutputType(typeof(DataEntity))]
    public sealed class GetD365DataEntityCommand : D365Cmdlet
    {
        /// <summary>Wildcard patterns matched against the entity name, its display name and its public (OData) names, for example *customer*. Default: every entity.</summary>
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] Name { get; set; } = { "*" };

        protected override void End()
        {
            var client = new MetadataClient(ActiveSession, VerboseLines);
            IReadOnlyList<DataEntity> entities = Array.Empty<DataEntity>();
            var language = MetadataClient.EntityNameLanguage;
            if (!RunForItem(ActiveSession.Environment, async token =>
                {
                    entities = await client.GetDataEntitiesAsync(token).ConfigureAwait(false);
                    await client.ResolveDisplayNamesAsync(entities, language, token).ConfigureAwait(false);
                }))
                return;
            var patterns = Name.Select(n => WildcardPattern.Get(n, WildcardOptions.IgnoreCase)).ToArray();
            foreach (var entity in entities)
                if (patterns.Any(p => p.IsMatch(entity.Name) || (entity.DisplayName != null && p.IsMatch(entity.DisplayName)) || (entity.PublicEntityName != null && p.IsMatch(entity.PublicEntityName)) ||
                                      (entity.PublicCollectionName != null && p.IsMatch(entity.PublicCollectionName))))
                    WriteObject(entity);
        }
    }
}
