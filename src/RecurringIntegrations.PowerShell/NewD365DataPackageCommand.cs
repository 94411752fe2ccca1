using System.Collections;
using System.Management.Automation;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// New-D365DataPackage: builds a data package zip (Manifest.xml, PackageHeader.xml, the data files) locally; no session
    /// needed. One entity per file: -Path with -EntityName (paired in order), or -Entity hashtables for several entities
    /// with their own format, execution unit, level and sequence. -TemplatePath reuses the manifest of an exported package.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "D365DataPackage", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
    [OutputType(typeof(FileInfo))]
    public sealed class NewD365DataPackageCommand : BridgedCmdlet
    {
        public const string PathSet = "Path";
        public const string EntitySet = "Entity";
        private readonly List<string> _paths = new List<string>();

        /// <summary>The data files (wildcards allowed; Get-ChildItem output binds). One entity each.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = Array.Empty<string>();

        /// <summary>The entity display name of each -Path file, in the same order ('Customer groups'). With -TemplatePath it may be left out: files are matched to the template's entities by name.</summary>
        [Parameter(ParameterSetName = PathSet)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(EntityNameCompleter))]
        public string[] EntityName { get; set; } = Array.Empty<string>();

        /// <summary>The source data format of the data project, for example CSV-Unicode, XML-Element or EXCEL. With -Entity, the default for hashtables without SourceFormat.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SourceFormat { get; set; }

        /// <summary>Several entities in one package: one hashtable per data file with Path and EntityName, and optionally SourceFormat, ExecutionUnit, Level and Sequence (the order of import).</summary>
        [Parameter(Mandatory = true, ParameterSetName = EntitySet)]
        [ValidateNotNullOrEmpty]
        public Hashtable[] Entity { get; set; } = Array.Empty<Hashtable>();

        /// <summary>The zip file to write. Its folder is created if missing.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string OutputPath { get; set; } = string.Empty;

        /// <summary>The data project's name written into the manifest. Default: the template's, else the zip's name.</summary>
        [Parameter]
        public string? DefinitionGroupName { get; set; }

        /// <summary>The package's description. Default: the template's, else the data project's name.</summary>
        [Parameter]
        public string? Description { get; set; }

        /// <summary>A package exported from the data project (Export-D365DataPackage, or Download package in the data project): its manifest, field maps included, is reused for the new data files.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? TemplatePath { get; set; }

        /// <summary>Replace -OutputPath if it exists.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void Process()
        {
            if (ParameterSetName != PathSet) return;
            // A package must be whole: a data file that is missing ends the command, not just the item.
            try
            {
                foreach (var path in Path) _paths.AddRange(Resolve(path, wildcards: true));
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, Path));
            }
        }

        protected override void End()
        {
            List<PackageEntity> entities;
            try
            {
                entities = ParameterSetName == EntitySet ? FromHashtables() : FromPaths();
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, null));
                return;
            }
            if (entities.Count == 0) return;
            var output = GetUnresolvedProviderPathFromPSPath(OutputPath);
            if (!ShouldProcess(output, string.Format(PackageMessages.CreateAction, entities.Count))) return;
            try
            {
                WriteObject(DataPackages.Create(new DataPackageRequest(entities, output)
                {
                    DefinitionGroupName = DefinitionGroupName,
                    Description = Description,
                    TemplatePath = TemplatePath is null ? null : GetUnresolvedProviderPathFromPSPath(TemplatePath),
                    Overwrite = Force,
                }));
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, output));
            }
        }

        private List<PackageEntity> FromPaths()
        {
            var entities = new List<PackageEntity>();
            if (_paths.Count == 0) return entities;
            if (EntityName.Length != 0 && EntityName.Length != _paths.Count)
                throw ErrorCatalog.PackageEntityNameCount.Create(_paths.Count, EntityName.Length);
            for (var i = 0; i < _paths.Count; i++)
                entities.Add(new PackageEntity(_paths[i]) { EntityName = EntityName.Length == 0 ? null : EntityName[i], SourceFormat = SourceFormat });
            return entities;
        }

        private List<PackageEntity> FromHashtables()
        {
            var entities = new List<PackageEntity>();
            foreach (var table in Entity)
            {
                string? path = null, entityName = null, format = SourceFormat;
                int? unit = null, level = null, sequence = null;
                foreach (DictionaryEntry entry in table)
                {
                    var key = Convert.ToString(entry.Key) ?? string.Empty;
                    var value = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
                    switch (key.ToUpperInvariant())
                    {
                        case "PATH": path = Convert.ToString(value); break;
                        case "ENTITYNAME": entityName = Convert.ToString(value); break;
                        case "SOURCEFORMAT": format = Convert.ToString(value); break;
                        case "EXECUTIONUNIT": unit = Number(key, value); break;
                        case "LEVEL": case "LEVELINEXECUTIONUNIT": level = Number(key, value); break;
                        case "SEQUENCE": case "SEQUENCEINLEVEL": sequence = Number(key, value); break;
                        default:
                            throw ErrorCatalog.PackageEntityInvalid.Create($"An -Entity hashtable has the unknown key '{key}'.");
                    }
                }
                if (string.IsNullOrWhiteSpace(path))
                    throw ErrorCatalog.PackageEntityInvalid.Create("An -Entity hashtable has no Path.");
                var resolved = Resolve(path!, wildcards: false);
                foreach (var file in resolved)
                    entities.Add(new PackageEntity(file) { EntityName = entityName, SourceFormat = format, ExecutionUnit = unit, LevelInExecutionUnit = level, SequenceInLevel = sequence });
            }
            return entities;
        }

        private static int Number(string key, object? value)
        {
            try
            {
                var number = Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
                if (number >= 1) return number;
            }
            catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is OverflowException) { }
            throw ErrorCatalog.PackageEntityInvalid.Create($"The -Entity key '{key}' must be a whole number from 1, not '{value}'.");
        }

        /// <summary>File system paths only; a pattern that matches nothing is an error naming it.</summary>
        private IEnumerable<string> Resolve(string path, bool wildcards)
        {
            var resolved = new List<string>();
            try
            {
                if (wildcards)
                {
                    var files = GetResolvedProviderPathFromPSPath(path, out var provider);
                    if (!string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase))
                        throw ErrorCatalog.PackagePathNotFileSystem.Create(path, provider.Name);
                    // A wildcard that matches nothing resolves to an empty list rather than throwing.
                    if (files.Count == 0) throw new ItemNotFoundException(path);
                    resolved.AddRange(files);
                }
                else
                {
                    resolved.Add(GetUnresolvedProviderPathFromPSPath(path));
                }
            }
            catch (ItemNotFoundException)
            {
                throw ErrorCatalog.PackagePathNotFound.Create(path);
            }
            return resolved;
        }
    }
}
