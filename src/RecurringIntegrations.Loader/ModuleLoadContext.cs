using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Loader;

namespace RecurringIntegrations.Loader
{
    /// <summary>
    /// The module's own load context: Core and the third-party assemblies it ships (MSAL, System.Text.Json, ...) load
    /// here, so another module's copies in the default context never meet ours, whichever loaded first.
    /// </summary>
    internal sealed class ModuleLoadContext : AssemblyLoadContext
    {
        private readonly IReadOnlyDictionary<string, string> _shipped;
        private readonly IReadOnlyDictionary<string, string> _runtime = RuntimeAssemblies();
        private readonly ConcurrentDictionary<string, Version?> _runtimeVersions = new ConcurrentDictionary<string, Version?>(StringComparer.OrdinalIgnoreCase);

        /// <param name="shipped">Simple name to path of every assembly the module ships for PowerShell 7.</param>
        public ModuleLoadContext(IReadOnlyDictionary<string, string> shipped) : base("RecurringIntegrations", isCollectible: false)
        {
            _shipped = shipped;
        }

        /// <summary>
        /// Overridden, not left to the default context: a plain context asks the default one first, and an older MSAL that
        /// another module loaded there would answer (or fail) for ours. Names the module does not ship, such as
        /// System.Management.Automation, return null and come from the default context.
        /// </summary>
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            var name = assemblyName.Name;
            if (name is null || !_shipped.TryGetValue(name, out var path)) return null;
            // The runtime's own assemblies (System.Memory, System.Text.Json, ...) keep one identity for the whole process:
            // a second Span<T> or JsonElement type would break every call across the boundary. The module's copy is taken
            // only when the runtime's is older than asked for (System.Formats.Asn1 8.0 for MSAL on PowerShell 7.2's .NET 6).
            if (_runtime.TryGetValue(name, out var runtimePath) && RuntimeVersion(name, runtimePath) >= (assemblyName.Version ?? new Version()))
                return null;
            return LoadFromAssemblyPath(path);
        }

        private Version? RuntimeVersion(string name, string runtimePath) =>
            _runtimeVersions.GetOrAdd(name, _ => AssemblyName.GetAssemblyName(runtimePath).Version);

        private static IReadOnlyDictionary<string, string> RuntimeAssemblies()
        {
            var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string list)
                foreach (var path in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                    result[Path.GetFileNameWithoutExtension(path)] = path;
            return result;
        }
    }
}
