namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// The progress bars of the module, one id each, so that two bars of one pipeline (Send-D365Enqueue |
    /// Get-D365MessageStatus -Wait, or a package's upload and then its wait) never take each other's place.
    /// </summary>
    internal enum ProgressBar
    {
        Enqueue = 1,
        Dequeue = 2,
        MessageStatus = 3,
        FolderImport = 4,
        FolderExport = 5,
        PackageUpload = 14,
        PackageWait = 15,
        PackageExport = 16,
        EntityRefresh = 17,
    }
}
