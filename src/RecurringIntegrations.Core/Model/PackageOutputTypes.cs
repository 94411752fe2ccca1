// Output types of the package cmdlets; flat, with the PSTypeName RecurringIntegrations.<Class>. No SAS URL in any.
namespace RecurringIntegrations.Core.Model
{
    /// <summary>One import or export run of a data project through the package API.</summary>
    public sealed class PackageExecution
    {
        /// <summary>Summary statuses after which the service does nothing more with the execution.</summary>
        public static readonly string[] TerminalStatuses = { "Succeeded", "PartiallySucceeded", "Failed", "Canceled" };

        public string ExecutionId { get; set; } = string.Empty;
        /// <summary>Import or Export; empty for an execution looked up by id.</summary>
        public string Operation { get; set; } = string.Empty;
        /// <summary>The data project's name.</summary>
        public string? DefinitionGroupId { get; set; }
        public string? LegalEntityId { get; set; }
        /// <summary>The service's summary status, kept as given; Unknown until the service has details of a run it just started.</summary>
        public string Status { get; set; } = string.Empty;
        public bool IsTerminal { get; set; }
        /// <summary>True only for Succeeded.</summary>
        public bool Succeeded { get; set; }
        /// <summary>The execution's page in the web client.</summary>
        public string? SummaryPageUrl { get; set; }
        /// <summary>The package imported, or the exported package as saved.</summary>
        public string? Path { get; set; }
        public long? Length { get; set; }
        public DateTimeOffset CheckedAt { get; set; }
        public string Environment { get; set; } = string.Empty;

        public static bool IsTerminalStatus(string? status) =>
            Array.Exists(TerminalStatuses, terminal => string.Equals(terminal, status, StringComparison.OrdinalIgnoreCase));

        public override string ToString() => $"{ExecutionId}: {Status}";
    }

    /// <summary>The keys of an entity's records that failed in the target, as the service wrote them, saved at <see cref="Path"/>.</summary>
    public sealed class ErrorKeysFile
    {
        public string ExecutionId { get; set; } = string.Empty;
        public string EntityName { get; set; } = string.Empty;
        public string Path { get; set; } = string.Empty;
        public long Length { get; set; }
        public string Environment { get; set; } = string.Empty;

        public override string ToString() => Path;
    }
}
