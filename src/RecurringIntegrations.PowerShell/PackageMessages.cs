namespace RecurringIntegrations.PowerShell
{
    /// <summary>The texts of the package cmdlets (kept apart from Messages so each area has its own place).</summary>
    internal static class PackageMessages
    {
        public const string PathNotFoundErrorId = "PackagePathNotFound";
        public const string PathNotFound = "No file matches '{0}'.";
        public const string PathNotFoundAction = "Check the path; -Path takes wildcards.";
        public const string PathNotFileSystemErrorId = "PackagePathNotFileSystem";
        public const string PathNotFileSystem = "'{0}' is on the {1} provider; a data file or package must be a file.";
        public const string EntityNameCountErrorId = "PackageEntityNameCount";
        public const string EntityNameCount = "{0} data files were given with {1} entity names.";
        public const string EntityNameCountAction = "Give one -EntityName per -Path file, in the same order, or use -Entity with one hashtable per file.";
        public const string EntityKeyErrorId = "PackageEntityInvalid";
        public const string EntityKey = "An -Entity hashtable has the unknown key '{0}'.";
        public const string EntityKeyAction = "Use the keys Path, EntityName, SourceFormat, ExecutionUnit, Level and Sequence.";
        public const string EntityPathMissing = "An -Entity hashtable has no Path.";
        public const string EntityNumber = "The -Entity key '{0}' must be a whole number from 1, not '{1}'.";

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
