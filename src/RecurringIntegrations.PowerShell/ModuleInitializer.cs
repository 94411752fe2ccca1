using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Makes Core and its dependencies, which live under Dependencies/, loadable without handing them to anyone else.
    /// PowerShell 7: the loader (a net6.0 assembly, since netstandard2.0 cannot subclass AssemblyLoadContext) puts them
    /// in the module's own load context and bridges Core alone to the default one.
    /// Windows PowerShell 5.1 has no load contexts: an AssemblyResolve handler answers our own requests from the list,
    /// preferring the .NET Framework builds under Dependencies/Desktop, and loads each file with LoadFile so that no
    /// other module's copy of the same name is bound to ours, nor ours to theirs.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        private const string LoaderName = "RecurringIntegrations.Loader";
        private const string CoreName = "RecurringIntegrations.Core";
        private const string BridgeTypeName = "RecurringIntegrations.Loader.CoreBridge";
        private static readonly string CmdletAssemblyPath = typeof(ModuleInitializer).Assembly.Location;
        private static readonly ConcurrentDictionary<string, Assembly> LoadedFiles = new ConcurrentDictionary<string, Assembly>(StringComparer.OrdinalIgnoreCase);

        private static bool IsDesktop => RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.OrdinalIgnoreCase);

        /// <summary>The list this session's import read; null before the first import.</summary>
        internal static ModuleDependencies? Dependencies { get; private set; }

        public void OnImport()
        {
            var dependencies = ModuleDependencies.Read(CmdletAssemblyPath, IsDesktop);
            dependencies.ThrowIfAnyMissing();
            Dependencies = dependencies;
            if (IsDesktop)
            {
                AppDomain.CurrentDomain.AssemblyResolve += ResolveOnDesktop;
                Load(dependencies, () => LoadFile(dependencies.PathOf(CoreName)));
            }
            else
            {
                var paths = dependencies.Assemblies.Select(a => a.Path).ToArray();
                Load(dependencies, () => Bridge(dependencies).GetMethod("Initialize")!.Invoke(null, new object[] { paths }));
            }
        }

        public void OnRemove(PSModuleInfo psModuleInfo)
        {
            if (Dependencies is null) return;
            if (IsDesktop) AppDomain.CurrentDomain.AssemblyResolve -= ResolveOnDesktop;
            else Bridge(Dependencies).GetMethod("Shutdown")!.Invoke(null, null);
        }

        private static Type Bridge(ModuleDependencies dependencies)
        {
            return Assembly.LoadFrom(dependencies.PathOf(LoaderName)).GetType(BridgeTypeName, throwOnError: true)!;
        }

        /// <summary>Core loads at import, so a missing or damaged file fails Import-Module with its name, not a later command.</summary>
        private static void Load(ModuleDependencies dependencies, Action load)
        {
            try
            {
                load();
            }
            catch (Exception ex) when (dependencies.BrokenFile(ex) is string path)
            {
                throw File.Exists(path) ? ModuleDependencies.Damaged(path, ex) : (Exception)ModuleDependencies.Missing(path);
            }
        }

        private static Assembly? ResolveOnDesktop(object? sender, ResolveEventArgs args)
        {
            var path = Dependencies?.ResolveForDesktop(new AssemblyName(args.Name), args.RequestingAssembly?.Location);
            return path is null ? null : LoadFile(path);
        }

        // LoadFile binds nothing by probing, so every reference of our assemblies comes back through ResolveOnDesktop;
        // the cache keeps one Assembly per file, as LoadFile alone does not promise on .NET Framework.
        private static Assembly LoadFile(string path) => LoadedFiles.GetOrAdd(path, Assembly.LoadFile);
    }
}
