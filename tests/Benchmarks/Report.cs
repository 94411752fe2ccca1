using System;
using System.Collections.Generic;
using System.Globalization;

namespace RecurringIntegrations.Benchmarks;

/// <summary>Prints one line per figure, with the target and PASS/FAIL where there is one, and the summary at the end.</summary>
internal sealed class Report
{
    private readonly List<string> _failed = new();
    private int _targets;

    public static string Format(double value) => value.ToString(value >= 100 ? "0" : value >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture);

    public void Note(string text) => Console.WriteLine(text);

    public void Figure(string name, string value) => Console.WriteLine($"{name,-72} {value}");

    /// <summary>A figure with a target: <paramref name="passed"/> decides PASS or FAIL.</summary>
    public void Target(string name, string value, string target, bool passed)
    {
        _targets++;
        if (!passed) _failed.Add(name);
        Console.WriteLine($"{name,-72} {value,-48} target {target,-22} {(passed ? "PASS" : "FAIL")}");
    }

    public bool AllPassed => _failed.Count == 0;

    public void Summary(TimeSpan elapsed) =>
        Console.WriteLine(AllPassed
            ? $"SUMMARY: all {_targets} targets PASS ({elapsed.TotalMinutes:0.0} min)"
            : $"SUMMARY: {_targets - _failed.Count} of {_targets} targets PASS; FAIL: {string.Join("; ", _failed)} ({elapsed.TotalMinutes:0.0} min)");
}
