using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Xml.Linq;
using RecurringIntegrations.Core.Packages;
using Xunit;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Tests.Packages;

/// <summary>New-D365DataPackage's Core: the zip the service expects (docs/protocol.md, "Data packages (the zip)"), built locally.</summary>
public sealed class DataPackageTests : IDisposable
{
    private static readonly XNamespace Ns = "http://schemas.microsoft.com/dynamics/2015/01/DataManagement";
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-packages-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string name, string content)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static XDocument ReadXml(ZipArchive zip, string name, out byte[] head)
    {
        using var stream = zip.GetEntry(name)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        head = copy.ToArray().Take(4).ToArray();
        copy.Position = 0;
        return XDocument.Load(copy);
    }

    [Fact]
    public void A_package_is_a_flat_zip_with_UTF16_manifest_and_header_in_the_serializers_alphabetical_order()
    {
        var data = Write("Customer groups.csv", "CUSTOMERGROUPID,DESCRIPTION\r\n10,Retail\r\n");
        var zipPath = Path.Combine(_folder, "out", "CustGroups.zip");

        var info = DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(data) { EntityName = "Customer groups", SourceFormat = "CSV-Unicode" } }, zipPath)
        {
            DefinitionGroupName = "CustGroups", Description = "Customer groups import",
        });

        Assert.Equal(zipPath, info.FullName);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(zipPath)!, "*.partial", SearchOption.AllDirectories).Concat(Directory.GetFiles(Path.GetDirectoryName(zipPath)!, ".*")));
        using var zip = ZipFile.OpenRead(zipPath);
        Assert.Equal(new[] { "Customer groups.csv", "Manifest.xml", "PackageHeader.xml" }, zip.Entries.Select(e => e.FullName).OrderBy(n => n, StringComparer.Ordinal));
        var manifest = ReadXml(zip, "Manifest.xml", out var manifestHead);
        var header = ReadXml(zip, "PackageHeader.xml", out var headerHead);
        Assert.Equal(new byte[] { 0xFF, 0xFE, (byte)'<', 0 }, manifestHead);
        Assert.Equal(new byte[] { 0xFF, 0xFE, (byte)'<', 0 }, headerHead);

        Assert.Equal(Ns + "DataManagementPackageManifest", manifest.Root!.Name);
        Assert.Equal(new[] { "DefinitionGroupName", "Description", "PackageEntityList" }, manifest.Root.Elements().Select(e => e.Name.LocalName));
        Assert.Equal("CustGroups", manifest.Root.Element(Ns + "DefinitionGroupName")!.Value);
        var entity = Assert.Single(manifest.Descendants(Ns + "DataManagementPackageEntityData"));
        var names = entity.Elements().Select(e => e.Name.LocalName).ToList();
        Assert.Equal(names.OrderBy(n => n, StringComparer.Ordinal), names);
        Assert.Equal("Customer groups", entity.Element(Ns + "EntityName")!.Value);
        Assert.Equal("Customer groups.csv", entity.Element(Ns + "InputFilePath")!.Value);
        Assert.Equal("CSV-Unicode", entity.Element(Ns + "SourceFormat")!.Value);

        Assert.Equal(Ns + "DataManagementPackageHeader", header.Root!.Name);
        Assert.Equal(new[] { "Description", "ManifestType", "PackageType", "PackageVersion" }, header.Root.Elements().Select(e => e.Name.LocalName));
        Assert.Equal("Customer groups import", header.Root.Element(Ns + "Description")!.Value);
        Assert.Equal("Microsoft.Dynamics.AX.Framework.Tools.DataManagement.Serialization.DataManagementPackageManifest", header.Root.Element(Ns + "ManifestType")!.Value);
        Assert.Equal("DefinitionGroup", header.Root.Element(Ns + "PackageType")!.Value);
        Assert.Equal("1", header.Root.Element(Ns + "PackageVersion")!.Value);
        using var reader = new StreamReader(zip.GetEntry("Customer groups.csv")!.Open());
        Assert.Equal(File.ReadAllText(data), reader.ReadToEnd());
    }

    [Fact]
    public void Several_entities_get_their_own_file_sequence_and_level()
    {
        var groups = Write("groups.csv", "A\r\n");
        var customers = Write("customers.xml", "<Document/>");
        var zipPath = Path.Combine(_folder, "two.zip");

        DataPackages.Create(new DataPackageRequest(new[]
        {
            new PackageEntity(groups) { EntityName = "Customer groups", SourceFormat = "CSV-Unicode" },
            new PackageEntity(customers) { EntityName = "Customers V3", SourceFormat = "XML-Element", LevelInExecutionUnit = 2, SequenceInLevel = 1 },
        }, zipPath));

        using var zip = ZipFile.OpenRead(zipPath);
        var entities = ReadXml(zip, "Manifest.xml", out _).Descendants(Ns + "DataManagementPackageEntityData").ToList();
        Assert.Equal(2, entities.Count);
        Assert.Equal(("Customer groups", "groups.csv", "1", "1"), Describe(entities[0]));
        Assert.Equal(("Customers V3", "customers.xml", "2", "1"), Describe(entities[1]));
        Assert.Equal("two", ReadXml(zip, "Manifest.xml", out _).Root!.Element(Ns + "DefinitionGroupName")!.Value);

        static (string, string, string, string) Describe(XElement e) => (e.Element(Ns + "EntityName")!.Value, e.Element(Ns + "InputFilePath")!.Value,
            e.Element(Ns + "LevelInExecutionUnit")!.Value, e.Element(Ns + "SequenceInLevel")!.Value);
    }

    [Fact]
    public void A_template_keeps_its_field_maps_and_takes_the_new_file_matched_by_name()
    {
        var template = Path.Combine(_folder, "template.zip");
        using (var zip = ZipFile.Open(template, ZipArchiveMode.Create))
        {
            var manifest = new XDocument(new XElement(Ns + "DataManagementPackageManifest",
                new XElement(Ns + "DefinitionGroupName", "Exported project"),
                new XElement(Ns + "Description", "From the data project"),
                new XElement(Ns + "PackageEntityList", new XElement(Ns + "DataManagementPackageEntityData",
                    new XElement(Ns + "EntityMapList", new XElement(Ns + "EntityMap", new XElement(Ns + "EntityField", "CUSTGROUPID"), new XElement(Ns + "XMLField", "GROUP"))),
                    new XElement(Ns + "EntityName", "Customer groups"),
                    new XElement(Ns + "InputFilePath", "Customer groups.xlsx"),
                    new XElement(Ns + "SequenceInLevel", "3"),
                    new XElement(Ns + "SourceFormat", "EXCEL")))));
            using (var writer = new StreamWriter(zip.CreateEntry("Manifest.xml").Open(), new UnicodeEncoding(false, true))) manifest.Save(writer);
            using (var writer = new StreamWriter(zip.CreateEntry("PackageHeader.xml").Open(), new UnicodeEncoding(false, true))) writer.Write("<DataManagementPackageHeader xmlns=\"http://schemas.microsoft.com/dynamics/2015/01/DataManagement\"/>");
        }
        var data = Write("Customer groups.csv", "GROUP\r\n20\r\n");

        DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(data) { SourceFormat = "CSV-Unicode" } }, Path.Combine(_folder, "new.zip")) { TemplatePath = template });

        using var built = ZipFile.OpenRead(Path.Combine(_folder, "new.zip"));
        var result = ReadXml(built, "Manifest.xml", out _);
        Assert.Equal("Exported project", result.Root!.Element(Ns + "DefinitionGroupName")!.Value);
        var entity = Assert.Single(result.Descendants(Ns + "DataManagementPackageEntityData"));
        Assert.Equal("CUSTGROUPID", entity.Descendants(Ns + "EntityField").Single().Value);
        Assert.Equal("Customer groups.csv", entity.Element(Ns + "InputFilePath")!.Value);
        Assert.Equal("CSV-Unicode", entity.Element(Ns + "SourceFormat")!.Value);
        Assert.Equal("3", entity.Element(Ns + "SequenceInLevel")!.Value);
        Assert.NotNull(built.GetEntry("Customer groups.csv"));
    }

    [Fact]
    public void A_template_without_the_entity_names_the_entities_it_has()
    {
        var template = Path.Combine(_folder, "t.zip");
        DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(Write("a.csv", "A")) { EntityName = "Vendor groups", SourceFormat = "CSV-Unicode" } }, template));

        var error = Assert.Throws<D365Exception>(() => DataPackages.Create(new DataPackageRequest(
            new[] { new PackageEntity(Write("b.csv", "B")) { EntityName = "Customer groups" } }, Path.Combine(_folder, "n.zip")) { TemplatePath = template }));

        Assert.Equal("PackageTemplateEntityNotFound", error.ErrorId);
        Assert.Contains("'Vendor groups' (a.csv)", error.Message);
        Assert.False(File.Exists(Path.Combine(_folder, "n.zip")));
    }

    [Fact]
    public void Bad_input_is_refused_with_the_fix_and_writes_nothing()
    {
        var data = Write("d.csv", "A");
        var existing = Write("exists.zip", "old");
        D365Exception Refusal(DataPackageRequest request) => Assert.Throws<D365Exception>(() => DataPackages.Create(request));

        Assert.Equal("PackageOutputExists", Refusal(new DataPackageRequest(new[] { new PackageEntity(data) { EntityName = "E", SourceFormat = "CSV-Unicode" } }, existing)).ErrorId);
        Assert.Equal("old", File.ReadAllText(existing));
        Assert.Equal("PackageEntityNameMissing", Refusal(new DataPackageRequest(new[] { new PackageEntity(data) { SourceFormat = "CSV-Unicode" } }, Path.Combine(_folder, "x.zip"))).ErrorId);
        Assert.Equal("PackageSourceFormatMissing", Refusal(new DataPackageRequest(new[] { new PackageEntity(data) { EntityName = "E" } }, Path.Combine(_folder, "x.zip"))).ErrorId);
        Assert.Equal("PackageDuplicateFileName", Refusal(new DataPackageRequest(new[] { new PackageEntity(Write("Manifest.xml", "<x/>")) { EntityName = "E", SourceFormat = "XML-Element" } }, Path.Combine(_folder, "x.zip"))).ErrorId);
        Assert.Equal("PackageNoDataFiles", Refusal(new DataPackageRequest(Array.Empty<PackageEntity>(), Path.Combine(_folder, "x.zip"))).ErrorId);
        Assert.False(File.Exists(Path.Combine(_folder, "x.zip")));

        DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(data) { EntityName = "E", SourceFormat = "CSV-Unicode" } }, existing) { Overwrite = true });
        DataPackages.EnsureIsPackage(existing);
    }

    [Fact]
    public void A_raw_file_or_a_zip_without_PackageHeader_is_not_a_package()
    {
        var raw = Write("raw.csv", "A,B\r\n1,2\r\n");
        var zipWithoutHeader = Path.Combine(_folder, "noheader.zip");
        using (var zip = ZipFile.Open(zipWithoutHeader, ZipArchiveMode.Create))
        using (var writer = new StreamWriter(zip.CreateEntry("Manifest.xml").Open())) writer.Write("<x/>");

        var notZip = Assert.Throws<D365Exception>(() => DataPackages.EnsureIsPackage(raw));
        var noHeader = Assert.Throws<D365Exception>(() => DataPackages.EnsureIsPackage(zipWithoutHeader));

        Assert.Equal("NotADataPackage", notZip.ErrorId);
        Assert.Equal(D365ErrorCategory.InvalidData, notZip.Category);
        Assert.Contains("New-D365DataPackage", notZip.RecommendedAction);
        Assert.Equal("NotADataPackage", noHeader.ErrorId);
        Assert.Contains("PackageHeader.xml", noHeader.Message);
    }
}
