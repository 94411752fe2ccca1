
namespace RecurringIntegrations.PowerShell
{
    /// <summary>Every text the cmdlets write themselves, in one place; error texts are in Core's ErrorCatalog.</summary>
    internal static class Messages
    {
        public const string SkipCertificateCheckWarning =
            "-SkipCertificateCheck: the server's TLS certificate is not checked. Use it only against a local test server, never a real environment.";
        public const string Connected = "Connected to {0} with {1}; the token expires {2}; proxy: {3}.";
        public const string Disconnecting = "Disconnect the default D365 session";
        public const string NoDefaultSession = "There is no default D365 session to disconnect.";
        public const string EnqueueActivity = "Uploading files to activity {0}";
        public const string EnqueueStreamingStatus = "{0} files uploaded";

        public const string DequeueActivity = "Downloading messages of activity {0}";
        public const string DequeueStatus = "{0} messages saved";
        public const string DequeueStatusOf = "{0} of at most {1} messages saved";

        public const string FolderImportActivity = "Importing the inbox {0}";
        public const string FolderImportAction = "Settle the files of earlier runs and import the new ones";
        public const string FolderImportStatus = "{0} of {1} files handled";
        public const string FolderImportPackageThrottleWarning = "-ThrottleLimit has no effect on a package inbox: the service imports one package of a data project at a time.";
        public const string FolderExportAction = "Save the waiting export messages of activity {0} here and acknowledge them";

        public const string AckAction = "Acknowledge on activity {0}";

        public const string StatusActivity = "Waiting for {0} messages to finish processing";
        public const string StatusStatus = "{0} of {1} finished";
    }
}
