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
        public const string NoErrorFile = "The service has no {0} error file for entity '{1}' of execution {2}: nothing saved.";
        public const string RefreshAction = "Refresh the data management entity list";
        public const string RefreshActivity = "Refreshing the data management entity list";
        public const string RefreshNotDone =
            "The entity list refresh did not answer in time; it may still be running in the environment. It was not started again. Use -Wait with a longer -TimeoutSeconds to wait for it.";

        public const string StorageSkipCertificateCheckWarning =
            "-SkipCertificateCheck: the TLS certificate of the package storage host is not checked either. Use it only against a local test server, never a real environment.";
    }
}
