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

    /// <summary>Which of an import's error files holds an entity's failed rows.</summary>
    public enum ErrorFileKind
    {
        /// <summary>The rows that failed before they reached the target (GetImportStagingErrorFileUrl): the file to open first.</summary>
        Staging,
        /// <summary>The keys of the records that failed in the target (GenerateImportTargetErrorKeysFile).</summary>
        Target,
    }

    /// <summary>An entity's error file of an import (staging rows or target keys), as the service wrote it, saved at <see cref="Path"/>.</summary>
    public sealed class ErrorKeysFile
    {
        public string ExecutionId { get; set; } = string.Empty;
        public string EntityName { get; set; } = string.Empty;
        public ErrorFileKind ErrorFile { get; set; }
        public string Path { get; set; } = string.Empty;
        public long Length { get; set; }
        public string Environment { get; set; } = string.Empty;

        public override string ToString() => Path;
    }

    /// <summary>A data entity of the environment, from its metadata (GET /Metadata/DataEntities).</summary>
    public sealed class DataEntity
    {
        /// <summary>The entity's name in the application (CustCustomerGroupEntity).</summary>
        public string Name { get; set; } = string.Empty;
        /// <summary>Its OData name (CustomerGroup).</summary>
        public string? PublicEntityName { get; set; }
        /// <summary>Its OData collection, the path under /data (CustomerGroups).</summary>
        public string? PublicCollectionName { get; set; }
        /// <summary>The label of its display name ("Customer groups" in data projects), as a label id.</summary>
        public string? LabelId { get; set; }
        /// <summary>
        /// Its display name, the entity name data projects, enqueue and packages take ('Customer groups'): the text of its label,
        /// or its public (else application) name when it has no label or the label could not be read. Null until resolved.
        /// </summary>
        public string? DisplayName { get; set; }
        /// <summary>Master, Reference, Document, Transaction or Parameters.</summary>
        public string? Category { get; set; }
        public bool IsReadOnly { get; set; }
        /// <summary>Usable in data projects, recurring jobs and packages.</summary>
        public bool DataManagementEnabled { get; set; }
        public bool DataServiceEnabled { get; set; }
        public string Environment { get; set; } = string.Empty;

        public override string ToString() => Name;
    }

    /// <summary>A refresh of data management's entity list (Initialize-D365DataManagement).</summary>
    public sealed class DataManagementRefresh
    {
        public string Environment { get; set; } = string.Empty;
        public DateTimeOffset StartedAt { get; set; }
        /// <summary>False when the call's answer did not come in time: the refresh may still be running in the environment.</summary>
        public bool Completed { get; set; }
        public DateTimeOffset? CompletedAt { get; set; }

        public override string ToString() => Completed ? "Completed" : "Started";
    }
}
