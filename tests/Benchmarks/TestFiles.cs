using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace RecurringIntegrations.Benchmarks;

internal static class TestFiles
{
    /// <summary>Small CSV files, each different, as an export of customer rows would be.</summary>
    public static IReadOnlyList<string> CreateSmall(string folder, int count, int sizeKB)
    {
        Directory.CreateDirectory(folder);
        var paths = new List<string>(count);
        var text = new StringBuilder(sizeKB * 1024 + 100);
        for (var i = 0; i < count; i++)
        {
            text.Clear().Append("CUSTOMERACCOUNT,NAME,CREDITLIMIT\n");
            for (var row = 0; text.Length < sizeKB * 1024 - 40; row++)
                text.Append(CultureInfo.InvariantCulture, $"C{i:D5}-{row:D4},Customer {i} row {row},{(i * 31 + row) % 10000}.00\n");
            text.Length = sizeKB * 1024 - 1;
            text.Append('\n');
            var path = Path.Combine(folder, $"customers-{i:D5}.csv");
            File.WriteAllText(path, text.ToString());
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>A file of <paramref name="megabytes"/> MB of random bytes (a zip compresses no further), written 1 MB at a time.</summary>
    public static string CreateBig(string folder, long megabytes)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "big.zip");
        var block = new byte[1024 * 1024];
        new Random(7).NextBytes(block);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1024 * 1024);
        for (long i = 0; i < megabytes; i++)
        {
            block[0] = (byte)i;
            file.Write(block);
        }
        return path;
    }
}
