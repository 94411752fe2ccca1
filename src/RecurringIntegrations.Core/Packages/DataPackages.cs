using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Packages
{
    /// <summary>One data file of a package and the entity it feeds.</summary>
    public sealed class PackageEntity
    {
        public PackageEntity(string path) => Path = path;

        public string Path { get; }
        /// <summary>The entity's display name as in the data project ('Customer groups'). With a template, null matches by file name.</summary>
        public string? EntityName { get; set; }
        /// <summary>The source data format of the data project ('CSV-Unicode', 'XML-Element', 'EXCEL'); with a template, null keeps the template's.</summary>
        public string? SourceFormat { get; set; }
        public int? ExecutionUnit { get; set; }
        public int? LevelInExecutionUnit { get; set; }
        public int? SequenceInLevel { get; set; }
    }

    public sealed class DataPackageRequest
    {
        public DataPackageRequest(IReadOnlyList<PackageEntity> entities, string outputPath)
        {
            Entities = entities ?? throw new ArgumentNullException(nameof(entities));
            OutputPath = outputPath;
        }

        public IReadOnlyList<PackageEntity> Entities { get; }
        public string OutputPath { get; }
        public string? DefinitionGroupName { get; set; }
        public string? Description { get; set; }
        /// <summary>A package exported from the data project: its manifest (field maps included) is reused for the new files.</summary>
        public string? TemplatePath { get; set; }
        public bool Overwrite { get; set; }
    }

    /// <summary>
    /// Builds and checks data packages (docs/protocol.md, "Data packages (the zip)"): a flat zip with Manifest.xml,
    /// PackageHeader.xml and the data files. Both XML files are UTF-16LE with a BOM, elements in the alphabetical order the
    /// service's serializer writes.
    /// </summary>
    public static class DataPackages
    {
        public const string ManifestName = "Manifest.xml";
        public const string HeaderName = "PackageHeader.xml";
        private const string ManifestType = "Microsoft.Dynamics.AX.Framework.Tools.DataManagement.Serialization.DataManagementPackageManifest";
        private static readonly XNamespace Ns = "http://schemas.microsoft.com/dynamics/2015/01/DataManagement";
        private static readonly XNamespace Xsi = "http://www.w3.org/2001/XMLSchema-instance";

        /// <summary>Writes the package to a hidden partial file and moves it into place only when complete.</summary>
        public static FileInfo Create(DataPackageRequest request)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            if (request.Entities.Count == 0)
                throw ErrorCatalog.PackageNoDataFiles.Create();
            var output = OutputFile(request.OutputPath, request.Overwrite);
            var template = request.TemplatePath is null ? null : ReadTemplate(request.TemplatePath);
            var entries = PlanEntries(request.Entities, template);
            var groupName = FirstText(request.DefinitionGroupName, template?.Root?.Element(Ns + "DefinitionGroupName")?.Value,
                Path.GetFileNameWithoutExtension(output));
            var description = FirstText(request.Description, template?.Root?.Element(Ns + "Description")?.Value, groupName);
            var manifest = BuildManifest(template, groupName!, description!, entries);

            using var landing = LandingFile.Create(Path.GetDirectoryName(output)!, Path.GetFileName(output), string.Empty,
                ex => ErrorCatalog.PackageWriteFailed.Wrap(ex, $"Writing the package '{output}'", ex.Message), 81920);
            try
            {
                using (var zip = new ZipArchive(landing.Stream, ZipArchiveMode.Create, leaveOpen: true))
                {
                    WriteXml(zip, ManifestName, manifest);
                    WriteXml(zip, HeaderName, BuildHeader(description!));
                    foreach (var (entity, entryName) in entries)
                    {
                        using var target = zip.CreateEntry(entryName, CompressionLevel.Fastest).Open();
                        using var source = new FileStream(entity.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.SequentialScan);
                        source.CopyTo(target, 81920);
                    }
                }
            }
            catch (IOException ex)
            {
                throw LandingFile.LocalFailure(ex, landing.PartialPath, string.Empty,
                    e => ErrorCatalog.PackageWriteFailed.Wrap(e, $"Writing the package '{output}'", e.Message));
            }
            return new FileInfo(landing.MoveTo(output, replace: true));
        }

        /// <summary>
        /// Refuses, before anything is sent, a file the service would fail on with "Could not find file ...PackageHeader.xml":
        /// not a zip, or a zip without PackageHeader.xml and Manifest.xml at its root.
        /// </summary>
        public static void EnsureIsPackage(string path)
        {
            FileChecks.ReadableFileLength(path);
            try
            {
                using var zip = ZipFile.OpenRead(path);
                var names = new HashSet<string>(zip.Entries.Select(e => e.FullName), StringComparer.OrdinalIgnoreCase);
                foreach (var required in new[] { HeaderName, ManifestName })
                    if (!names.Contains(required))
                        throw ErrorCatalog.NotADataPackage.Create(path, $"it has no {required} at its root (the service would fail with \"Could not find file ...{required}\")");
            }
            catch (InvalidDataException ex)
            {
                throw ErrorCatalog.NotADataPackage.Wrap(ex, path, "it is not a zip file");
            }
        }

        private static string OutputFile(string path, bool overwrite)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw ErrorCatalog.PackageOutputPathEmpty.Create();
            var full = Path.GetFullPath(path);
            if (Directory.Exists(full))
                throw ErrorCatalog.PackageOutputPathIsFolder.Create(full, Path.Combine(full, "package.zip"));
            if (File.Exists(full) && !overwrite)
                throw ErrorCatalog.PackageOutputExists.Create(full, "name");
            FileNames.CheckUsable(full, string.Empty);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            return full;
        }

        private static List<(PackageEntity Entity, string EntryName)> PlanEntries(IReadOnlyList<PackageEntity> entities, XDocument? template)
        {
            var planned = new List<(PackageEntity, string)>();
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ManifestName, HeaderName };
            foreach (var entity in entities)
            {
                FileChecks.ReadableFileLength(entity.Path);
                var name = Path.GetFileName(entity.Path);
                if (!names.Add(name))
                    throw ErrorCatalog.PackageDuplicateFileName.Create(name);
                if (template is null && string.IsNullOrWhiteSpace(entity.EntityName))
                    throw ErrorCatalog.PackageEntityNameMissing.Create(entity.Path);
                if (template is null && string.IsNullOrWhiteSpace(entity.SourceFormat))
                    throw ErrorCatalog.PackageSourceFormatMissing.Create(entity.Path);
                planned.Add((entity, name));
            }
            return planned;
        }

        private static XDocument ReadTemplate(string path)
        {
            EnsureIsPackage(path);
            using var zip = ZipFile.OpenRead(path);
            var entry = zip.Entries.First(e => string.Equals(e.FullName, ManifestName, StringComparison.OrdinalIgnoreCase));
            try
            {
                using var stream = entry.Open();
                var document = XDocument.Load(stream);
                if (document.Root?.Name != Ns + "DataManagementPackageManifest")
                    throw new XmlException("the root element is not DataManagementPackageManifest");
                return document;
            }
            catch (XmlException ex)
            {
                throw ErrorCatalog.PackageTemplateInvalid.Wrap(ex, path, ex.Message);
            }
        }

        private static XDocument BuildManifest(XDocument? template, string groupName, string description, List<(PackageEntity Entity, string EntryName)> entries)
        {
            var templateEntities = template?.Root?.Element(Ns + "PackageEntityList")?.Elements(Ns + "DataManagementPackageEntityData").ToList()
                                   ?? new List<XElement>();
            var list = new XElement(Ns + "PackageEntityList");
            for (var i = 0; i < entries.Count; i++)
            {
                var (entity, entryName) = entries[i];
                XElement element;
                if (template is null)
                {
                    element = new XElement(Ns + "DataManagementPackageEntityData",
                        new XElement(Ns + "DefaultRefreshType", "FullPush"),
                        new XElement(Ns + "Disable", "false"),
                        new XElement(Ns + "EntityMapList"),
                        new XElement(Ns + "EntityName", entity.EntityName!.Trim()),
                        new XElement(Ns + "ExecutionUnit", Number(entity.ExecutionUnit ?? 1)),
                        new XElement(Ns + "InputFilePath", entryName),
                        new XElement(Ns + "LevelInExecutionUnit", Number(entity.LevelInExecutionUnit ?? 1)),
                        new XElement(Ns + "RunBusinessLogic", "true"),
                        new XElement(Ns + "RunBusinessValidation", "false"),
                        new XElement(Ns + "SequenceInLevel", Number(entity.SequenceInLevel ?? i + 1)),
                        new XElement(Ns + "SourceFormat", entity.SourceFormat!.Trim()));
                }
                else
                {
                    element = new XElement(MatchTemplate(templateEntities, entity, entryName));
                    SetChild(element, "InputFilePath", entryName);
                    if (!string.IsNullOrWhiteSpace(entity.SourceFormat)) SetChild(element, "SourceFormat", entity.SourceFormat!.Trim());
                    if (entity.ExecutionUnit is { } unit) SetChild(element, "ExecutionUnit", Number(unit));
                    if (entity.LevelInExecutionUnit is { } level) SetChild(element, "LevelInExecutionUnit", Number(level));
                    if (entity.SequenceInLevel is { } sequence) SetChild(element, "SequenceInLevel", Number(sequence));
                }
                list.Add(element);
            }
            return new XDocument(new XElement(Ns + "DataManagementPackageManifest",
                new XAttribute(XNamespace.Xmlns + "i", Xsi.NamespaceName),
                new XElement(Ns + "DefinitionGroupName", groupName),
                new XElement(Ns + "Description", description),
                list));
        }

        /// <summary>The template's entry for a file: by entity name when given, else by the file's name (the same name as in the export, or the same stem).</summary>
        private static XElement MatchTemplate(List<XElement> templateEntities, PackageEntity entity, string entryName)
        {
            string? Child(XElement e, string name) => e.Element(Ns + name)?.Value?.Trim();
            var match = !string.IsNullOrWhiteSpace(entity.EntityName)
                ? templateEntities.FirstOrDefault(e => string.Equals(Child(e, "EntityName"), entity.EntityName!.Trim(), StringComparison.OrdinalIgnoreCase))
                : templateEntities.FirstOrDefault(e => string.Equals(Child(e, "InputFilePath"), entryName, StringComparison.OrdinalIgnoreCase))
                  ?? templateEntities.FirstOrDefault(e => string.Equals(Path.GetFileNameWithoutExtension(Child(e, "InputFilePath") ?? ""),
                      Path.GetFileNameWithoutExtension(entryName), StringComparison.OrdinalIgnoreCase));
            if (match is null)
            {
                var known = string.Join(", ", templateEntities.Select(e => $"'{Child(e, "EntityName")}' ({Child(e, "InputFilePath")})"));
                throw ErrorCatalog.PackageTemplateEntityNotFound.Create(entity.EntityName ?? entryName, known);
            }
            return match;
        }

        /// <summary>Sets a child's value, or inserts it where the serializer's alphabetical order puts it.</summary>
        private static void SetChild(XElement parent, string name, string value)
        {
            var existing = parent.Element(Ns + name);
            if (existing != null)
            {
                existing.RemoveAttributes();
                existing.Value = value;
                return;
            }
            var child = new XElement(Ns + name, value);
            var after = parent.Elements().FirstOrDefault(e => string.CompareOrdinal(e.Name.LocalName, name) > 0);
            if (after is null) parent.Add(child);
            else after.AddBeforeSelf(child);
        }

        private static XDocument BuildHeader(string description) =>
            new XDocument(new XElement(Ns + "DataManagementPackageHeader",
                new XAttribute(XNamespace.Xmlns + "i", Xsi.NamespaceName),
                new XElement(Ns + "Description", description),
                new XElement(Ns + "ManifestType", ManifestType),
                new XElement(Ns + "PackageType", "DefinitionGroup"),
                new XElement(Ns + "PackageVersion", "1")));

        private static void WriteXml(ZipArchive zip, string name, XDocument document)
        {
            using var stream = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
            var settings = new XmlWriterSettings { Encoding = new UnicodeEncoding(bigEndian: false, byteOrderMark: true), Indent = true };
            using var writer = XmlWriter.Create(stream, settings);
            document.Save(writer);
        }

        private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

        private static string? FirstText(params string?[] candidates) => candidates.FirstOrDefault(c => !string.IsNullOrWhiteSpace(c))?.Trim();
    }
}
