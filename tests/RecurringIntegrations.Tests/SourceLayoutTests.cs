using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using RecurringIntegrations.Tests.Cmdlets;
using Xunit;

namespace RecurringIntegrations.Tests;

/// <summary>How the source is laid out: one namespace per folder, its name the project's root namespace and the folder path.</summary>
public sealed class SourceLayoutTests
{
    // The compiler looks this type up by its full name (netstandard2.0 lacks it), so it cannot take its folder's namespace.
    private static readonly string[] CompilerShims = { "src/RecurringIntegrations.Core/CompilerSupport/IsExternalInit.cs" };

    public static TheoryData<string> Projects()
    {
        var projects = new TheoryData<string>();
        foreach (var project in Directory.GetFiles(Path.Combine(BuiltModule.RepositoryRoot, "src"), "*.csproj", SearchOption.AllDirectories))
            projects.Add(Relative(project));
        projects.Add("tests/RecurringIntegrations.Tests/RecurringIntegrations.Tests.csproj");
        return projects;
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Every_file_declares_the_namespace_of_its_folder(string project)
    {
        var path = Path.Combine(BuiltModule.RepositoryRoot, project);
        var folder = Path.GetDirectoryName(path)!;
        var root = XDocument.Load(path).Descendants("RootNamespace").Select(e => e.Value).SingleOrDefault() ?? Path.GetFileNameWithoutExtension(path);
        Assert.Equal(Path.GetFileNameWithoutExtension(path), root);

        var wrong = new List<string>();
        foreach (var file in Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(folder, file);
            if (relative.StartsWith("bin" + Path.DirectorySeparatorChar) || relative.StartsWith("obj" + Path.DirectorySeparatorChar)) continue;
            if (CompilerShims.Contains(Relative(file))) continue;
            var subfolder = Path.GetDirectoryName(relative)!;
            var expected = subfolder.Length == 0 ? root : root + "." + subfolder.Replace(Path.DirectorySeparatorChar, '.');
            var declared = Regex.Matches(File.ReadAllText(file), @"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
            if (declared.Count != 1 || declared[0] != expected)
                wrong.Add($"{Relative(file)}: {string.Join(", ", declared)} (expected {expected})");
        }
        Assert.Empty(wrong);
    }

    private static string Relative(string path) => Path.GetRelativePath(BuiltModule.RepositoryRoot, path).Replace(Path.DirectorySeparatorChar, '/');
}
