using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;

namespace RecurringIntegrations.Tests.Cmdlets
{
    /// <summary>
    /// The built module in out/RecurringIntegrations, read as metadata only: System.Management.Automation comes from the
    /// PowerShellStandard.Library package (compile-only, as the cmdlets see it), the framework from this runtime.
    /// </summary>
    internal static class BuiltModule
    {
        private static readonly Lazy<MetadataLoadContext> LazyContext = new Lazy<MetadataLoadContext>(CreateContext);

        public static string RepositoryRoot { get; } = FindRepositoryRoot();
        public static string Folder => Path.Combine(RepositoryRoot, "out", "RecurringIntegrations");
        public static MetadataLoadContext Context => LazyContext.Value;
        public static Assembly Cmdlets => Context.LoadFromAssemblyPath(Path.Combine(Folder, "RecurringIntegrations.PowerShell.dll"));
        public static string Dependencies => Path.Combine(Folder, "Dependencies");
        public static Assembly Core => Context.LoadFromAssemblyPath(Path.Combine(Dependencies, "RecurringIntegrations.Core.dll"));

        public static IReadOnlyList<Type> CmdletTypes => Cmdlets.GetTypes()
            .Where(t => t.GetCustomAttributesData().Any(a => a.AttributeType.FullName == "System.Management.Automation.CmdletAttribute"))
            .ToList();

        public static string CmdletName(Type type)
        {
            var attribute = type.GetCustomAttributesData().Single(a => a.AttributeType.FullName == "System.Management.Automation.CmdletAttribute");
            return attribute.ConstructorArguments[0].Value + "-" + attribute.ConstructorArguments[1].Value;
        }

        public static Type Cmdlet(string name) => CmdletTypes.Single(t => CmdletName(t) == name);

        public static T? Named<T>(CustomAttributeData attribute, string name) =>
            attribute.NamedArguments.Where(a => a.MemberName == name).Select(a => (T?)a.TypedValue.Value).FirstOrDefault();

        /// <summary>A parameter's [Parameter] attributes, one per parameter set it belongs to.</summary>
        public static IReadOnlyList<ParameterDeclaration> Parameters(Type cmdlet) =>
            cmdlet.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .SelectMany(p => p.GetCustomAttributesData()
                    .Where(a => a.AttributeType.FullName == "System.Management.Automation.ParameterAttribute")
                    .Select(a => new ParameterDeclaration(p.Name, p.PropertyType,
                        Named<string>(a, "ParameterSetName") ?? "__AllParameterSets",
                        Named<bool>(a, "Mandatory"),
                        Named<bool>(a, "ValueFromPipeline"),
                        Named<bool>(a, "ValueFromPipelineByPropertyName"))))
                .ToList();

        private static MetadataLoadContext CreateContext()
        {
            var paths = new List<string>(Directory.GetFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll"));
            var standard = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages",
                "powershellstandard.library", "5.1.1", "lib", "netstandard2.0", "System.Management.Automation.dll");
            paths.Add(standard);
            var framework = new HashSet<string>(paths.Select(p => Path.GetFileName(p)!), StringComparer.OrdinalIgnoreCase);
            // The module's own copies of framework assemblies would clash with the runtime's; only the rest is added,
            // as PowerShell 7 loads them (Dependencies/Desktop is Windows PowerShell's).
            paths.AddRange(Directory.GetFiles(Folder, "*.dll").Concat(Directory.GetFiles(Dependencies, "*.dll"))
                .Where(p => !framework.Contains(Path.GetFileName(p))));
            return new MetadataLoadContext(new PathAssemblyResolver(paths));
        }

        private static string FindRepositoryRoot()
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
                if (File.Exists(Path.Combine(directory.FullName, "RecurringIntegrations.slnx"))) return directory.FullName;
            throw new InvalidOperationException("The repository root (RecurringIntegrations.slnx) was not found above " + AppContext.BaseDirectory);
        }
    }

    internal sealed record ParameterDeclaration(string Name, Type Type, string ParameterSet, bool Mandatory, bool ByValue, bool ByPropertyName);
}
