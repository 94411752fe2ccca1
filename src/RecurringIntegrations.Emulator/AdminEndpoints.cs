using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// The emulator's own endpoints under /emulator, for a script in another process: no token (the emulator listens on
/// loopback only), never throttled, faulted or recorded, since they are not the service.
/// <list type="bullet">
/// <item>GET /emulator/stats: <c>{"calls":N,"throttled":M,"mostThrottledOfOne":K,"delays":D,"delayedMs":T}</c>, the /api and
/// /data calls so far, how many got 429, the most 429s one upload got (its tries told apart by their external identifier),
/// and the added-latency waits (delay-N faults) done and their measured time in all. <c>?since=</c> an ISO 8601 time
/// (2026-12-07T12:00:00Z) counts only the calls answered from then on (not the waits), to measure one phase of a run.</item>
/// <item>GET /emulator/messages: the imports, exports and package executions as the emulator holds them.</item>
/// <item>POST /emulator/exports/{activity}?name=FILE: queues the body as an export message; answers its correlation id.</item>
/// <item>POST /emulator/exports/{correlationId}/file-missing: marks an export message's file as gone from storage.</item>
/// <item>POST /emulator/reset: forgets every message, execution, request and fault rule.</item>
/// </list>
/// </summary>
internal sealed class AdminEndpoints(D365Emulator emulator)
{
    private static readonly Operation Admin = new("Admin", OperationAccess.Admin);

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/emulator/stats", StatsAsync).WithMetadata(Admin);
        routes.MapGet("/emulator/messages", MessagesAsync).WithMetadata(Admin);
        routes.MapPost("/emulator/exports/{activity:guid}", AddExportAsync).WithMetadata(Admin);
        routes.MapPost("/emulator/exports/{correlationId:guid}/file-missing", FileMissingAsync).WithMetadata(Admin);
        routes.MapPost("/emulator/reset", context =>
        {
            emulator.Reset();
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }).WithMetadata(Admin);
    }

    private Task StatsAsync(HttpContext context)
    {
        var since = DateTimeOffset.MinValue;
        if (context.Request.Query.TryGetValue("since", out var given)
            && !DateTimeOffset.TryParse(given.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out since))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return context.Response.WriteAsync($"since '{given}' is not a time: give an ISO 8601 time such as 2026-12-07T12:00:00Z.");
        }
        var calls = emulator.State.Requests.Where(r => r.At >= since && IsServiceCall(r.PathAndQuery)).ToList();
        var (delays, delayed) = emulator.Faults.Delays;
        return context.Response.WriteAsJsonAsync(new
        {
            calls = calls.Count,
            throttled = calls.Count(r => r.StatusCode == StatusCodes.Status429TooManyRequests),
            mostThrottledOfOne = calls.Where(r => r.StatusCode == StatusCodes.Status429TooManyRequests && r.ExternalIdentifier is not null)
                .GroupBy(r => r.ExternalIdentifier, StringComparer.Ordinal).Select(g => g.Count()).DefaultIfEmpty(0).Max(),
            delays,
            delayedMs = Math.Round(delayed.TotalMilliseconds, 1),
        });
    }

    private static bool IsServiceCall(string pathAndQuery)
    {
        var path = pathAndQuery.Split('?')[0];
        return path.StartsWith("/api/", StringComparison.OrdinalIgnoreCase) || path.StartsWith("/data/", StringComparison.OrdinalIgnoreCase);
    }

    private Task MessagesAsync(HttpContext context)
    {
        var state = emulator.State;
        return context.Response.WriteAsJsonAsync(new
        {
            imports = state.Enqueued.Select(m => new
            {
                messageId = m.MessageId, activityId = m.ActivityId, entity = m.Entity, company = m.Company,
                externalIdentifier = m.ExternalIdentifier, length = m.Length, sha256 = m.Sha256, enqueuedAt = m.EnqueuedAt, status = m.Status,
            }),
            exports = state.Exports.Select(m => new
            {
                correlationId = m.CorrelationId, activityId = m.ActivityId, fileName = m.FileName, dequeueCount = m.DequeueCount,
                acknowledged = m.Acknowledged, fileMissing = m.FileMissing,
            }),
            packageExecutions = emulator.Packages.Executions.Select(e => new
            {
                executionId = e.ExecutionId, kind = e.Kind, definitionGroupId = e.DefinitionGroupId, legalEntityId = e.LegalEntityId,
                startedAt = e.StartedAt, finalStatus = e.FinalStatus, errors = e.Errors.Count,
            }),
        });
    }

    private async Task AddExportAsync(HttpContext context)
    {
        var activity = Guid.Parse((string)context.GetRouteValue("activity")!);
        var name = context.Request.Query["name"].ToString();
        if (name.Length == 0)
            name = "export.dat";
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        Guid correlationId;
        try
        {
            correlationId = emulator.AddExportMessage(activity, name, body.ToArray());
        }
        catch (ArgumentException e)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsJsonAsync(new { error = e.Message });
            return;
        }
        await context.Response.WriteAsJsonAsync(new { correlationId });
    }

    private Task FileMissingAsync(HttpContext context)
    {
        var correlationId = Guid.Parse((string)context.GetRouteValue("correlationId")!);
        context.Response.StatusCode = emulator.State.MarkFileMissing(correlationId) ? StatusCodes.Status204NoContent : StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }
}
