using System.Globalization;
using System.Management.Automation;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// For optional parameters bound by property name from Import-Csv rows: an empty column is a value the earlier run did
    /// not have, so it binds as null instead of failing the row. A date is read in this machine's culture first (Export-Csv
    /// wrote it in that culture), then in the invariant one (what PowerShell's own conversion reads).
    /// </summary>
    [AttributeUsage(AttributeTargets.Property)]
    internal sealed class CsvValueAttribute : ArgumentTransformationAttribute
    {
        private readonly Type _type;

        public CsvValueAttribute(Type type) => _type = type;

        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            if (!((inputData is PSObject wrapped ? wrapped.BaseObject : inputData) is string text)) return inputData;
            if (string.IsNullOrWhiteSpace(text)) return null;
            if (_type == typeof(DateTimeOffset) && DateTimeOffset.TryParse(text, CultureInfo.CurrentCulture, DateTimeStyles.AllowWhiteSpaces, out var local)) return local;
            return inputData;
        }
    }
}
