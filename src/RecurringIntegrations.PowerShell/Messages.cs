namespace RecurringIntegrations.PowerShell
{
    /// <summary>Every text the cmdlets write themselves, in one place. Core's D365Exceptions carry their own text.</summary>
    internal static class Messages
    {
        public const string NoSessionErrorId = "NoSession";
        public const string NoSession = "There is no D365 session. Run Connect-D365 first, or pass a session with -Session.";
        public const string NoSessionAction = "Run Connect-D365 -Environment <url> with a credential.";

        public const string SkipCertificateCheckWarning =
            "-SkipCertificateCheck: the server's TLS certificate is not checked. Use it only against a local test server, never a real environment.";
        public const string Connected = "Connected to {0} with {1}; the token expires {2}.";
        public const string Disconnecting = "Disconnect the default D365 session";
        public const string NoDefaultSession = "There is no default D365 session to disconnect.";

        public const string EnqueueFileNotFoundErrorId = "EnqueueFileNotFound";
        public const string EnqueueFileNotFound = "No file matches '{0}'.";
        public const string EnqueueFileNotFoundAction = "Check the path; -Path takes wildcards, -LiteralPath takes the name as is.";
        public const string EnqueuePathNotFileSystemErrorId = "EnqueuePathNotFileSystem";
        public const string EnqueuePathNotFileSystem = "'{0}' is on the {1} provider; only files can be enqueued.";
        public const string EnqueueActivity = "Uploading files to activity {0}";
        public const string EnqueueStatus = "{0} of {1} files";
        public const string EnqueueStreamingStatus = "{0} files uploaded";

        public const string DequeueActivity = "Downloading messages of activity {0}";
        public const string DequeueStatus = "{0} messages saved";
        public const string DequeueStatusOf = "{0} of at most {1} messages saved";

        public const string FolderImportActivity = "Importing the inbox {0}";
        public const string FolderImportAction = "Settle the files of earlier runs and import the new ones";
        public const string FolderImportStatus = "{0} of {1} files handled";
        public const string FolderExportAction = "Save the waiting export messages of activity {0} here and acknowledge them";

        public const string AckAction = "Acknowledge on activity {0}";

        public const string StatusActivity = "Waiting for {0} messages to finish processing";
        public const string StatusStatus = "{0} of {1} finished";
        public const string StatusContextAmbiguousErrorId = "StatusContextAmbiguous";
        public const string StatusContextAmbiguous = "-FileName, -Path, -ActivityId and -EnqueuedAt describe one message, but {0} message ids were given with them.";
        public const string StatusContextAmbiguousAction = "Give one -MessageId with them, or pipe the messages of Send-D365Enqueue (one per file).";

        public const string ModuleFileMissingErrorId = "ModuleFileMissing";
        public const string ModuleFileDamagedErrorId = "ModuleFileDamaged";
        public const string ModuleFileMissing = "The module file {0} is missing.";
        public const string ModuleFileDamaged = "The module file {0} is damaged or is not the version this module was built with.";
        public const string ModuleFileAction = "Reinstall the module (Install-Module RecurringIntegrations -Force), or rebuild it with dotnet build.";

        public const string ExecutionErrorTypeName = "RecurringIntegrations.ExecutionError";
    }
}
