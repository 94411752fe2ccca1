using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Tests.Cmdlets;
using Xunit;

namespace RecurringIntegrations.Tests.Errors;

public class ErrorCatalogTests
{
    /// <summary>ErrorIds that PowerShell's parameter binding raises before a cmdlet runs; the help names them too.</summary>
    private static readonly HashSet<string> PowerShellErrorIds = new(StringComparer.Ordinal)
    {
        "ParameterArgumentValidationError", "ParameterArgumentTransformationError",
    };

    private static readonly Regex Row = new(@"^    (\d+|--)\s+(.*)$");

    /// <summary>The rows of about_RecurringIntegrations_Errors that name an ErrorId: (ErrorId, Category).</summary>
    private static List<(string Id, string Category)> HelpRows()
    {
        var path = Path.Combine(BuiltModule.RepositoryRoot, "module", "en-US", "about_RecurringIntegrations_Errors.help.txt");
        var rows = new List<(string, string)>();
        foreach (var line in File.ReadAllLines(path))
        {
            var match = Row.Match(line);
            if (!match.Success) continue;
            var cells = Regex.Split(match.Groups[2].Value.Trim(), @"\s{2,}");
            Assert.True(cells.Length >= 4, $"The help row '{line.Trim()}' does not have the columns bad input, ErrorId, category, what to do.");
            if (cells[1].StartsWith("(", StringComparison.Ordinal)) continue;
            rows.Add((cells[1], cells[2]));
        }
        return rows;
    }

    [Fact]
    public void Every_ErrorId_is_declared_once()
    {
        var duplicates = ErrorCatalog.All.GroupBy(e => e.ErrorId).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);
        Assert.True(ErrorCatalog.All.Count > 90);
    }

    [Fact]
    public void Every_entry_has_a_message_and_advice_that_format_with_its_arguments()
    {
        foreach (var entry in ErrorCatalog.All)
        {
            Assert.Matches("^[A-Z][A-Za-z0-9]+$", entry.ErrorId);
            Assert.False(string.IsNullOrWhiteSpace(entry.Message), entry.ErrorId);
            Assert.False(string.IsNullOrWhiteSpace(entry.Advice), entry.ErrorId);
            var arguments = Enumerable.Range(0, 6).Select(i => (object?)("argument" + i)).ToArray();
            var error = entry.Create(arguments);
            Assert.Equal(entry.ErrorId, error.ErrorId);
            Assert.Equal(entry.Category, error.Category);
            Assert.False(string.IsNullOrWhiteSpace(error.RecommendedAction), entry.ErrorId);
            Assert.DoesNotContain("{", error.Message);
        }
    }

    [Fact]
    public void An_unexpected_error_keeps_the_original_exception_and_says_to_report_it()
    {
        var original = new InvalidOperationException("boom");
        var error = ErrorCatalog.UnexpectedError.Wrap(original, "Saving message 1 failed", original.GetType().FullName, original.Message);

        Assert.Equal("UnexpectedError", error.ErrorId);
        Assert.Same(original, error.InnerException);
        Assert.Contains("System.InvalidOperationException: boom", error.Message);
        Assert.Contains("report it", error.RecommendedAction);
    }

    [Fact]
    public void The_errors_help_names_every_ErrorId_of_the_catalogue_with_its_category()
    {
        var rows = HelpRows();
        var missing = ErrorCatalog.All.Where(e => rows.All(r => r.Id != e.ErrorId)).Select(e => e.ErrorId).ToList();
        Assert.Empty(missing);
        var wrongCategory = rows
            .Select(r => (Row: r, Entry: ErrorCatalog.All.FirstOrDefault(e => e.ErrorId == r.Id)))
            .Where(x => x.Entry != null && x.Entry.Category.ToString() != x.Row.Category)
            .Select(x => $"{x.Row.Id}: help {x.Row.Category}, catalogue {x.Entry!.Category}")
            .ToList();
        Assert.Empty(wrongCategory);
    }

    [Fact]
    public void Every_ErrorId_the_errors_help_names_is_in_the_catalogue_or_is_PowerShells_own()
    {
        var unknown = HelpRows().Select(r => r.Id)
            .Where(id => !PowerShellErrorIds.Contains(id) && ErrorCatalog.All.All(e => e.ErrorId != id))
            .Distinct()
            .ToList();
        Assert.Empty(unknown);
    }

    [Fact]
    public void Only_the_catalogue_makes_errors()
    {
        var source = Path.Combine(BuiltModule.RepositoryRoot, "src");
        var makers = Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains(Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar))
            .Where(f => File.ReadAllText(f).Contains("new D365Exception("))
            .Select(f => Path.GetRelativePath(source, f).Replace('\\', '/'))
            .ToList();
        Assert.Equal(new[] { "RecurringIntegrations.Core/Errors/D365Exception.cs", "RecurringIntegrations.Core/Errors/ErrorEntry.cs" }, makers.OrderBy(f => f, StringComparer.Ordinal));
    }
}
