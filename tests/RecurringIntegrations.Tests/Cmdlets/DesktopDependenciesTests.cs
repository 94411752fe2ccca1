using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using RecurringIntegrations.PowerShell;
using Xunit;

namespace RecurringIntegrations.Tests.Cmdlets
{
    /// <summary>
    /// The built module as Windows PowerShell 5.1 would load it, read as metadata: every assembly reference of the cmdlet
    /// assembly, of Core and of each Dependencies/Desktop build (and of whatever those resolve to) must be answered, either
    /// by .NET Framework 4.7.2 itself (its reference assemblies and facades, at that version or above) or by the shipped
    /// resolver's own rules (ModuleDependencies.ResolveForDesktop over the built list: at or below the shipped version,
    /// public key token matching). A reference that neither answers is a FileNotFoundException or a FileLoadException on
    /// 5.1 at the first call that needs it: nothing on Linux would notice.
    /// </summary>
    public sealed class DesktopDependenciesTests
    {
        private static readonly string CmdletAssembly = Path.Combine(BuiltModule.Folder, "RecurringIntegrations.PowerShell.dll");

        // The host's own: Windows PowerShell 5.1 has System.Management.Automation 3.0.0.0 in the GAC.
        private static readonly AssemblyName[] Host = { new AssemblyName("System.Management.Automation, Version=3.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35") };

        /// <summary>.NET Framework 4.7.2's assemblies and facades, from the reference assemblies package the net472 build restores.</summary>
        private static readonly Lazy<Dictionary<string, AssemblyName>> Framework = new Lazy<Dictionary<string, AssemblyName>>(() =>
        {
            var folder = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES") ??
                    Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
                "microsoft.netframework.referenceassemblies.net472", "1.0.3", "build", ".NETFramework", "v4.7.2");
            Assert.True(Directory.Exists(folder), "The .NET Framework 4.7.2 reference assemblies are not restored at " + folder);
            return Directory.GetFiles(folder, "*.dll").Concat(Directory.GetFiles(Path.Combine(folder, "Facades"), "*.dll"))
                .Select(IdentityOf).OfType<AssemblyName>()
                .GroupBy(a => a.Name!, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => g.OrderByDescending(a => a.Version).First(), StringComparer.OrdinalIgnoreCase);
        });

        [Fact]
        public void Every_reference_of_the_Windows_PowerShell_load_resolves_through_the_framework_or_the_shipped_resolver()
        {
            var list = ModuleDependencies.Read(CmdletAssembly, desktop: true);

            Assert.Empty(Unresolved(list));
        }

        [Fact]
        public void A_Desktop_build_missing_from_the_list_is_found()
        {
            var full = ModuleDependencies.Read(CmdletAssembly, desktop: true);
            var withoutMemory = new ModuleDependencies(CmdletAssembly, full.Assemblies.Where(a => a.Name != "System.Memory"), desktop: true);

            Assert.Contains(Unresolved(withoutMemory), problem => problem.Contains("System.Memory, Version=4.0.1.2"));
        }

        [Fact]
        public void A_shipped_version_below_a_reference_or_a_token_that_differs_is_found()
        {
            var full = ModuleDependencies.Read(CmdletAssembly, desktop: true);
            ShippedAssembly Altered(ShippedAssembly shipped, Action<AssemblyName> change)
            {
                var identity = (AssemblyName)shipped.Identity.Clone();
                change(identity);
                return new ShippedAssembly(shipped.Path, identity);
            }

            var olderJson = new ModuleDependencies(CmdletAssembly, full.Assemblies.Select(a =>
                a.Name == "System.Text.Json" ? Altered(a, identity => identity.Version = new Version(5, 0, 0, 0)) : a), desktop: true);
            var otherBuffers = new ModuleDependencies(CmdletAssembly, full.Assemblies.Select(a =>
                a.Name == "System.Buffers" ? Altered(a, identity => identity.SetPublicKeyToken(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 })) : a), desktop: true);

            Assert.Contains(Unresolved(olderJson), problem => problem.Contains("System.Text.Json, Version=6.0.0.0"));
            Assert.Contains(Unresolved(otherBuffers), problem => problem.Contains("System.Buffers, Version=4.0.3.0"));
        }

        /// <summary>"requester -> reference" for each reference nothing answers, following what the resolver hands out.</summary>
        private static List<string> Unresolved(ModuleDependencies list)
        {
            var problems = new List<string>();
            var start = new[] { CmdletAssembly, list.PathOf("RecurringIntegrations.Core") }
                .Concat(list.Assemblies.Select(a => a.Path).Where(p => Path.GetFileName(Path.GetDirectoryName(p)) == ModuleDependencies.DesktopFolderName));
            var pending = new Queue<string>(start);
            var seen = new HashSet<string>(pending, StringComparer.OrdinalIgnoreCase);
            while (pending.Count > 0)
            {
                var requester = pending.Dequeue();
                foreach (var reference in References(requester))
                {
                    if (Satisfies(Host, reference) || (Framework.Value.TryGetValue(reference.Name!, out var framework) && Satisfies(new[] { framework }, reference)))
                        continue;
                    var path = list.ResolveForDesktop(reference, requester);
                    if (path is null) problems.Add(Path.GetFileName(requester) + " -> " + reference.FullName);
                    else if (seen.Add(path)) pending.Enqueue(path);
                }
            }
            return problems;
        }

        // The reference assemblies folder also holds a few files that are not assemblies.
        private static AssemblyName? IdentityOf(string path)
        {
            try
            {
                return AssemblyName.GetAssemblyName(path);
            }
            catch (BadImageFormatException)
            {
                return null;
            }
        }

        private static IEnumerable<AssemblyName> References(string path)
        {
            using var stream = File.OpenRead(path);
            using var reader = new System.Reflection.PortableExecutable.PEReader(stream);
            var metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(reader);
            return metadata.AssemblyReferences.Select(handle => metadata.GetAssemblyReference(handle).GetAssemblyName()).ToList();
        }

        /// <summary>One of <paramref name="available"/> is the reference's name at its version or above, with its token.</summary>
        private static bool Satisfies(IEnumerable<AssemblyName> available, AssemblyName reference) => available.Any(a =>
            string.Equals(a.Name, reference.Name, StringComparison.OrdinalIgnoreCase) &&
            (reference.Version is null || a.Version >= reference.Version) &&
            Token(a) == Token(reference));

        private static string Token(AssemblyName name) => Convert.ToHexString(name.GetPublicKeyToken() ?? Array.Empty<byte>());
    }
}
