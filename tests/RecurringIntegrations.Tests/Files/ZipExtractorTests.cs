using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Files;
using Xunit;

namespace RecurringIntegrations.Tests.Files;

/// <summary>The one extractor against hostile packages: each is refused whole, before a single file is written.</summary>
public class ZipExtractorTests
{
    private const string Stays = " The package was saved but not expanded.";

    private static string Zip(params (string Name, string Content)[] entries)
    {
        var folder = Directory.CreateTempSubdirectory().FullName;
        var path = Path.Combine(folder, "package.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
            foreach (var (name, content) in entries)
            {
                using var stream = zip.CreateEntry(name).Open();
                var bytes = Encoding.UTF8.GetBytes(content);
                stream.Write(bytes, 0, bytes.Length);
            }
        return path;
    }

    /// <summary>Everything in the zip's folder apart from the zip itself: what the extractor wrote.</summary>
    private static string[] Written(string zip) =>
        Directory.GetFileSystemEntries(Path.GetDirectoryName(zip)!, "*", SearchOption.AllDirectories).Where(p => p != zip).ToArray();

    [Fact]
    public void A_flat_package_unpacks_beside_the_zip_into_a_folder_of_its_name()
    {
        var zip = Zip(("Manifest.xml", "<m/>"), ("PackageHeader.xml", "<h/>"), ("Customer groups.csv", "a,b"), ("sub/", ""), ("sub/x.txt", "x"));

        var folder = ZipExtractor.ExpandBeside(zip, Stays);

        Assert.Equal(Path.Combine(Path.GetDirectoryName(zip)!, "package"), folder);
        Assert.Equal("a,b", File.ReadAllText(Path.Combine(folder, "Customer groups.csv")));
        Assert.Equal("x", File.ReadAllText(Path.Combine(folder, "sub", "x.txt")));
        Assert.Empty(Directory.GetFiles(folder, "*.partial", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(folder, ".*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("../evil.txt")]
    [InlineData("a/../../evil.txt")]
    [InlineData("/etc/evil.txt")]
    [InlineData("C:/evil.txt")]
    [InlineData("C:evil.txt")]
    public void Entries_that_would_land_outside_the_folder_are_refused(string name)
    {
        var zip = Zip(("ok.txt", "fine"), (name, "evil"));
        var error = Assert.Throws<D365Exception>(() => ZipExtractor.ExpandBeside(zip, Stays));
        Assert.Equal("PackageEntryOutsideFolder", error.ErrorId);
        Assert.Contains(name, error.Message);
        Assert.Equal(Stays.Trim(), error.RecommendedAction);
        Assert.Empty(Written(zip));
    }

    [Theory]
    [InlineData("..\\evil.txt")]
    [InlineData("sub\\file.txt")]
    public void Backslash_separators_are_refused(string name)
    {
        var zip = Zip(("ok.txt", "fine"), (name, "evil"));
        var error = Assert.Throws<D365Exception>(() => ZipExtractor.ExpandBeside(zip, Stays));
        Assert.Equal("PackageEntryUnsafe", error.ErrorId);
        Assert.Contains("'\\'", error.Message);
        Assert.Empty(Written(zip));
    }

    [Theory]
    [InlineData("data.csv", "data.csv")]
    [InlineData("data.csv", "DATA.CSV")]
    [InlineData("sub/", "SUB/")]
    [InlineData("sub", "sub/")]
    public void Duplicate_names_also_by_case_are_refused(string first, string second)
    {
        var zip = Zip((first, "one"), (second, "two"));
        var error = Assert.Throws<D365Exception>(() => ZipExtractor.ExpandBeside(zip, Stays));
        Assert.Equal("PackageEntryUnsafe", error.ErrorId);
        Assert.Contains("twice", error.Message);
        Assert.Empty(Written(zip));
    }

    [Theory]
    [InlineData("CON.xml")]
    [InlineData("sub./a.txt")]
    public void Reserved_names_are_refused(string name)
    {
        var zip = Zip((name, "x"));
        Assert.Equal("PackageEntryUnsafe", Assert.Throws<D365Exception>(() => ZipExtractor.ExpandBeside(zip, Stays)).ErrorId);
        Assert.Empty(Written(zip));
    }

    [Fact]
    public void A_package_that_unpacks_beyond_the_limit_is_refused_before_anything_is_written()
    {
        var zip = Zip(("a.txt", new string('0', 600)), ("b.txt", new string('0', 600)));
        var error = Assert.Throws<D365Exception>(() => ZipExtractor.ExpandBeside(zip, Stays, maxExpandedBytes: 1000));
        Assert.Equal("PackageTooLargeToExpand", error.ErrorId);
        Assert.Empty(Written(zip));

        ZipExtractor.ExpandBeside(zip, Stays, maxExpandedBytes: 1200);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(Path.GetDirectoryName(zip)!, "package")).Length);
    }

    [Fact]
    public void A_file_that_is_not_a_zip_is_unreadable_and_says_what_became_of_it()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "package.zip");
        File.WriteAllText(path, "not a zip");
        var error = Assert.Throws<D365Exception>(() => ZipExtractor.ExpandBeside(path, Stays));
        Assert.Equal("PackageUnreadable", error.ErrorId);
        Assert.Equal(Stays.Trim(), error.RecommendedAction);
    }
}
