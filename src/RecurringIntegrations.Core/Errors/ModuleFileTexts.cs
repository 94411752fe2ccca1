namespace RecurringIntegrations.Core.Errors
{
    /// <summary>
    /// The texts of the catalogue's two entries about the module's own files. The cmdlet assembly compiles this file in
    /// as well: when Core itself is the file that is missing or damaged, the catalogue cannot be loaded to say so.
    /// </summary>
    internal static class ModuleFileTexts
    {
        public const string MissingId = "ModuleFileMissing";
        public const string DamagedId = "ModuleFileDamaged";
        public const string Missing = "The module file {0} is missing.";
        public const string Damaged = "The module file {0} is damaged or is not the version this module was built with.";
        public const string Advice = "Reinstall the module (Install-Module RecurringIntegrations -Force), or rebuild it with dotnet build.";
        public const string BlockedId = "ModuleFileBlocked";
        public const string Blocked = "The module file {0} is blocked: Windows marks it as downloaded from the internet, and .NET Framework does not load such files.";
        /// <summary>{0}: the file; {1}: the module's folder.</summary>
        public const string BlockedAdvice = "Unblock the module's files, then import it in a new PowerShell window: Get-ChildItem -LiteralPath '{1}' -Recurse | Unblock-File";
    }
}
