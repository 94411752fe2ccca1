using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// The environment's data entities: GET /Metadata/DataEntities (OData, PascalCase fields, paged with @odata.nextLink and
/// a $skiptoken), GET /Metadata/Labels(Id='...',Language='...') for the entities' labels (their display names; the
/// emulator's texts are English and answer for any language, as the application falls back to its default language; an
/// unknown label is the service's OData 404) and the InitializeDataManagement action, which refreshes data management's entity list and answers 204
/// with no body when it is done (it holds the call for <see cref="EmulatorOptions.ProcessingDelay"/>).
/// </summary>
public sealed class MetadataEndpoints
{
    private readonly EmulatorOptions options;

    internal MetadataEndpoints(EmulatorOptions options) => this.options = options;

    private int _refreshes;

    /// <summary>How many refreshes of the entity list have ended.</summary>
    public int Refreshes => Volatile.Read(ref _refreshes);

    private IReadOnlyList<EmulatedDataEntity> Entities => options.DataEntities.Count > 0 ? options.DataEntities : WellKnown.DataEntities;

    internal void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/Metadata/DataEntities", ListAsync).WithMetadata(new Operation("DataEntities", OperationAccess.Service));
        // The key segment is one path segment, Labels(Id='...',Language='...'), so the route takes the segment and reads it.
        routes.MapGet("/Metadata/{segment}", LabelAsync).WithMetadata(new Operation("Labels", OperationAccess.Service));
        DataEndpoints.MapAction(routes, "InitializeDataManagement", async context =>
        {
            await Task.Delay(options.ProcessingDelay, context.RequestAborted);
            Interlocked.Increment(ref _refreshes);
            context.Response.StatusCode = 204;
        });
    }

    private static readonly Regex LabelKey = new(@"^Labels\(Id='(?<id>(?:[^']|'')*)',Language='(?<language>(?:[^']|'')*)'\)$", RegexOptions.CultureInvariant);

    private Task LabelAsync(HttpContext context, string segment)
    {
        var key = LabelKey.Match(segment);
        if (!key.Success)
            return Wire.WriteODataErrorAsync(context, 404, $"No HTTP resource was found that matches the request URI '{context.Request.Path}'.");
        var id = key.Groups["id"].Value.Replace("''", "'");
        var language = key.Groups["language"].Value.Replace("''", "'");
        var entity = Entities.FirstOrDefault(e => string.Equals(e.EffectiveLabelId, id, StringComparison.OrdinalIgnoreCase));
        if (entity is null)
            return Wire.WriteODataErrorAsync(context, 404, $"Label '{id}' was not found for language '{language}'.");
        return Wire.WriteJsonAsync(context, 200, Wire.ODataContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("@odata.context", IdentityEndpoints.Origin(context) + context.Request.PathBase + "/Metadata/$metadata#Labels/$entity");
            w.WriteString("Id", entity.EffectiveLabelId);
            w.WriteString("Language", language);
            w.WriteString("Value", entity.Label);
            w.WriteEndObject();
        });
    }

    private Task ListAsync(HttpContext context)
    {
        var skip = int.TryParse(context.Request.Query["$skiptoken"], NumberStyles.None, CultureInfo.InvariantCulture, out var token) ? token : 0;
        var entities = Entities;
        var page = entities.Skip(skip).Take(Math.Max(1, options.DataEntitiesPageSize)).ToArray();
        // On-premises the links carry the environment's path.
        var origin = IdentityEndpoints.Origin(context) + context.Request.PathBase;
        return Wire.WriteJsonAsync(context, 200, Wire.ODataContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("@odata.context", origin + "/Metadata/$metadata#DataEntities");
            w.WriteStartArray("value");
            foreach (var entity in page)
            {
                w.WriteStartObject();
                w.WriteString("Name", entity.Name);
                w.WriteString("PublicEntityName", entity.PublicEntityName);
                w.WriteString("PublicCollectionName", entity.PublicCollectionName);
                w.WriteString("LabelId", entity.EffectiveLabelId);
                w.WriteBoolean("DataServiceEnabled", true);
                w.WriteBoolean("DataManagementEnabled", entity.DataManagementEnabled);
                w.WriteString("EntityCategory", entity.Category);
                w.WriteBoolean("IsReadOnly", entity.IsReadOnly);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (skip + page.Length < entities.Count)
                w.WriteString("@odata.nextLink", $"{origin}/Metadata/DataEntities?$skiptoken={skip + page.Length}");
            w.WriteEndObject();
        });
    }
}
