using System.Collections.Concurrent;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Makes Core and its dependencies, which live under Dependencies/, loadable without handing them to anyone else.
    /// PowerShell 7: the loader (a net6.0 assembly, since netstandard2.0 cannot subclass AssemblyLoadContext) puts them
    /// in the module's own load context and bridges Core alone to the default one.
    /// Windows PowerShell 5.1 has no load contexts: an AssemblyResolve handler answers our own requests from the list,
    /// preferring the .NET Framework builds under Dependencies/Desktop, and loads each file with LoadFile so that no
    /// other module's copy of the same name is bound to ours, nor ours to theirs.
    /// Windows PowerShell 5.1 also gets TLS 1.2 added to the process's protocols (<see cref="DesktopTls"/>).
    /// Both are set up once per process and never undone (there is no IModuleAssemblyCleanup): assemblies cannot be
    /// unloaded, ours go on resolving their dependencies lazily (MSAL at the first sign-in) in every runspace that
    /// imported the module, and Remove-Module in one runspace must not break another.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer
    {
        private const string LoaderName = "RecurringIntegrations.Loader";
        private const string CoreName = "RecurringIntegrations.Core";
        private const string BridgeTypeName = "RecurringIntegrations.Loader.CoreBridge";
        private static readonly string CmdletAssemblyPath = typeof(ModuleInitializer).Assembly.Location;
        private static readonly ConcurrentDictionary<string, Assembly> LoadedFiles = new ConcurrentDictionary<string, Assembly>(StringComparer.OrdinalIgnoreCase);
        private static readonly object Gate = new object();

        private static bool IsDesktop => RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.OrdinalIgnoreCase);

        /// <summary>The module's dependency list, read by the first import that succeeded in this process.</summary>
        internal static ModuleDependencies? Dependencies { get; private set; }

        public void OnImport()
        {
            lock (Gate)
            {
                if (Dependencies != null) return;
                try
                {
                    var dependencies = ModuleDependencies.Read(CmdletAssemblyPath, IsDesktop);
                    dependencies.ThrowIfAnyMissing();
                    Dependencies = dependencies;
                    if (IsDesktop) DesktopTls.Apply();
                    LoadCore(dependencies);
                }
                catch (ModuleFileException ex)
                {
                    Dependencies = null;
                    var category = ex.ErrorId switch
                    {
                        ModuleFileTexts.MissingId => ErrorCategory.ObjectNotFound,
                        ModuleFileTexts.BlockedId => ErrorCategory.SecurityError,
                        _ => ErrorCategory.InvalidData,
                    };
                    var record = new ErrorRecord(ex, ex.ErrorId, category, ex.Path)
                    {
                        ErrorDetails = new ErrorDetails(ex.Message) { RecommendedAction = ex.Advice },
                    };
                    throw new RuntimeException(ex.Message, ex, record);
                }
            }
        }

        /// <summary>Core loads at import, so a missing or damaged file fails Import-Module with its name, not some later command.</summary>
        private static void LoadCore(ModuleDependencies dependencies)
        {
            try
            {
                if (IsDesktop)
                {
                    AppDomain.CurrentDomain.AssemblyResolve -= ResolveOnDesktop;
                    AppDomain.CurrentDomain.AssemblyResolve += ResolveOnDesktop;
                    LoadFile(dependencies.PathOf(CoreName));
                }
                else
                {
                    var bridge = Assembly.LoadFrom(dependencies.PathOf(LoaderName)).GetType(BridgeTypeName, throwOnError: true)!;
                    bridge.GetMethod("Initialize")!.Invoke(null, new object[] { dependencies.Assemblies.Select(a => a.Path).ToArray() });
                }
            }
            catch (Exception ex) when (dependencies.BrokenFile(ex) is string path)
            {
                throw ModuleFileException.For(path, ex);
            }
        }

        private static Assembly? ResolveOnDesktop(object? sender, ResolveEventArgs args) =>
            Dependencies?.ResolveOnDesktop(args.Name, args.RequestingAssembly, LoadFile);

        // LoadFile binds nothing by probing, so every reference of our assemblies comes back through ResolveOnDesktop;
        // the cache keeps one Assembly per file, which LoadFile alone does not promise on .NET Framework.
        private static Assembly LoadFile(string path) => LoadedFiles.GetOrAdd(path, Assembly.LoadFile);
    }
}
