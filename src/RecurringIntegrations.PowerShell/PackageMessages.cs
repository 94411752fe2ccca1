namespace RecurringIntegrations.PowerShell
{
    /// <summary>The texts of the package cmdlets (kept apart from Messages so each area has its own place).</summary>
    internal static class PackageMessages
    {
        public const string CreateAction = "Create data package with {0} data file(s)";
        public const string ImportAction = "Import into data project '{0}' of company '{1}'";
        public const string ExportAction = "Export data project '{0}' of company '{1}' into this folder";
        public const string UploadActivity = "Uploading data package {0}";
        public const string UploadStatus = "{0:N0} of {1:N0} MB";
        public const string WaitActivity = "Waiting for execution {0}";
        public const string WaitStatus = "Status: {0}";
        public const string ExportActivity = "Exporting data project {0}";
        public const string ExportStatus = "Running the export, then downloading the package";

        public const string StorageSkipCertificateCheckWarning =
            "-SkipCertificateCheck: the TLS certificate of the package storage host is not checked either. Use it only against a local test server, never a real environment.";
    }
}
