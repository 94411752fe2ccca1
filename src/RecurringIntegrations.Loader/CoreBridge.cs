using System;
using System.Collections.Generic;
using System.IO;
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
        private static ModuleLoadContext? _context;
        private static Assembly? _core;
        private static bool _hooked;

        /// <summary>
        /// Loads Core into the module's context (once per process: Remove-Module cannot unload an assembly) and answers
        /// the default context's request for it. Loading Core now, not at the first command, makes a damaged Core fail
        /// Import-Module rather than some later command.
        /// </summary>
        /// <param name="shippedPaths">Every assembly the module ships for PowerShell 7, Core among them.</param>
        public static void Initialize(string[] shippedPaths)
        {
            lock (Gate)
            {
                if (_context is null)
                {
                    var shipped = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    foreach (var path in shippedPaths) shipped[Path.GetFileNameWithoutExtension(path)] = path;
                    var context = new ModuleLoadContext(shipped);
                    _core = context.LoadFromAssemblyName(new AssemblyName(CoreName));
                    _context = context;
                }
                if (!_hooked)
                {
                    AssemblyLoadContext.Default.Resolving += ResolveCore;
                    _hooked = true;
                }
            }
        }

        /// <summary>Stops answering for Core (Remove-Module); a later Initialize answers again with the same Core.</summary>
        public static void Shutdown()
        {
            lock (Gate)
            {
                if (!_hooked) return;
                AssemblyLoadContext.Default.Resolving -= ResolveCore;
                _hooked = false;
            }
        }

        private static Assembly? ResolveCore(AssemblyLoadContext context, AssemblyName name) =>
            string.Equals(name.Name, CoreName, StringComparison.OrdinalIgnoreCase) ? _core : null;
    }
}
