using System.Management.Automation;
using RecurringIntegrations.Core.Connection;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// The names users know the module's objects by: RecurringIntegrations.&lt;Class&gt;, whatever namespace of Core holds the
    /// class. Format views, Export-Csv's #TYPE line and users' scripts select on them, so they come first in PSTypeNames.
    /// </summary>
    internal static class PSTypeNames
    {
        /// <summary>Get-D365ExecutionError's rows are built property by property (the service's fields vary): they have no class.</summary>
        public const string ExecutionError = "RecurringIntegrations.ExecutionError";

        public static string Of(Type type) => "RecurringIntegrations." + type.Name;

        /// <summary>An object of Core wrapped with its user-facing type name first; anything else as it is.</summary>
        public static object? Named(object? item)
        {
            if (item is null || item is PSObject || item.GetType().Assembly != typeof(D365Session).Assembly) return item;
            var wrapped = PSObject.AsPSObject(item);
            var name = Of(item.GetType());
            if (wrapped.TypeNames.Count == 0 || wrapped.TypeNames[0] != name) wrapped.TypeNames.Insert(0, name);
            return wrapped;
        }
    }
}
