using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// The environment's data entities: GET /Metadata/DataEntities (OData, PascalCase fields, paged with @odata.nextLink and
/// a $skiptoken) and the InitializeDataManagement action, which refreshes data management's entity list and answers 204
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
        DataEndpoints.MapAction(routes, "InitializeDataManagement", async context =>
        {
            await Task.Delay(options.ProcessingDelay, context.RequestAborted);
            Interlocked.Increment(ref _refreshes);
            context.Response.StatusCode = 204;
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
                w.WriteString("LabelId", "@EMU:" + entity.Label.Replace(' ', '_'));
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
