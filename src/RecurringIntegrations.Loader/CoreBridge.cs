using System.Reflection;
using System.Runtime.Loader;

namespace RecurringIntegrations.Loader
{
    /// <summary>
    /// Bridges Core, and only Core, from the module's load context into the default one, where PowerShell loaded the
    /// cmdlet assembly. Called by reflection from the cmdlet assembly, which targets netstandard2.0 and cannot name
    /// AssemblyLoadContext.
    /// </summary>
    public static class CoreBridge
    {
        private const string CoreName = "RecurringIntegrations.Core";
        private static readonly object Gate = new object();
        private static Assembly? _core;

        /// <summary>
        /// Loads Core into the module's context and answers the default context's requests for it, once per process:
        /// an assembly cannot be unloaded, so a second import (Remove-Module and Import-Module, another runspace) finds
        /// the same Core. Loading Core now, not at the first command, makes a damaged Core fail Import-Module.
        /// </summary>
        /// <param name="shippedPaths">Every assembly the module ships for PowerShell 7, Core among them.</param>
        public static void Initialize(string[] shippedPaths)
        {
            lock (Gate)
            {
                if (_core != null) return;
                var shipped = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var path in shippedPaths) shipped[Path.GetFileNameWithoutExtension(path)] = path;
                _core = new ModuleLoadContext(shipped).LoadFromAssemblyName(new AssemblyName(CoreName));
                AssemblyLoadContext.Default.Resolving += ResolveCore;
            }
        }

        private static Assembly? ResolveCore(AssemblyLoadContext context, AssemblyName name) =>
            string.Equals(name.Name, CoreName, StringComparison.OrdinalIgnoreCase) ? _core : null;
    }
}
