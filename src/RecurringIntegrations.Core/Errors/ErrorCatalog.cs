using System.Reflection;
using static RecurringIntegrations.Core.Errors.D365ErrorCategory;

namespace RecurringIntegrations.Core.Errors
{
    /// <summary>
    /// Every ErrorId of the module, declared once: its category, its message and its advice (composite formats over the
    /// same arguments). about_RecurringIntegrations_Errors documents each one, and a test holds the two together.
    /// </summary>
    public static class ErrorCatalog
    {
        // Session and sign-in
        public static readonly ErrorEntry NoSession = new ErrorEntry("NoSession", InvalidOperation,
            "There is no D365 session. Run Connect-D365 first, or pass a session with -Session.",
            "Run Connect-D365 -Environment <url> with a credential.");
        public static readonly ErrorEntry SessionClosed = new ErrorEntry("SessionClosed", InvalidOperation,
            "This session was closed by Disconnect-D365.", "Run Connect-D365 to open a new session.");
        public static readonly ErrorEntry EnvironmentMissing = new ErrorEntry("EnvironmentMissing", InvalidArgument,
            "The environment URL is empty.", "Give the environment's URL, for example https://contoso.operations.dynamics.com.");
        public static readonly ErrorEntry EnvironmentInvalid = new ErrorEntry("EnvironmentInvalid", InvalidArgument,
            "'{0}' is not a valid environment URL.", "Give the environment's URL, for example https://contoso.operations.dynamics.com.");
        public static readonly ErrorEntry EnvironmentNotHttps = new ErrorEntry("EnvironmentNotHttps", SecurityError,
            "'{0}' uses http://; tokens are only ever sent over https.",
            "Use the https:// address of the environment (http:// is accepted only for a local emulator on loopback).");
        public static readonly ErrorEntry AuthorityHostInvalid = new ErrorEntry("AuthorityHostInvalid", InvalidArgument,
            "The authority host '{0}' is not an https:// URL.",
            "Leave -AuthorityHost out for the public cloud, or give the https:// sign-in host of your cloud, for example https://login.microsoftonline.us.");
        public static readonly ErrorEntry ThrottlingBudgetInvalid = new ErrorEntry("ThrottlingBudgetInvalid", InvalidArgument,
            "The throttling budget '{0}' is not a positive time span.",
            "Give -ThrottlingBudget a positive time span, for example (New-TimeSpan -Minutes 30), or leave it out for 30 minutes.");
        public static readonly ErrorEntry ClientSecretMissing = new ErrorEntry("ClientSecretMissing", InvalidArgument,
            "The client secret is empty.", "Pass the app registration's secret with -ClientSecret (a SecureString) or -Credential.");
        /// <summary>{0}: what is empty (tenant id, client id).</summary>
        public static readonly ErrorEntry CredentialArgumentMissing = new ErrorEntry("CredentialArgumentMissing", InvalidArgument,
            "The {0} is empty.", "Give the {0} of the Microsoft Entra ID app registration.");
        public static readonly ErrorEntry CertificateWithoutPrivateKey = new ErrorEntry("CertificateWithoutPrivateKey", InvalidArgument,
            "The certificate {0} has no private key, so it cannot sign a client assertion.",
            "Use the certificate as installed with its private key (a .pfx import), not the public .cer file.");
        public static readonly ErrorEntry CertificateThumbprintMissing = new ErrorEntry("CertificateThumbprintMissing", InvalidArgument,
            "The certificate thumbprint is empty.", "Give the thumbprint of a certificate in the CurrentUser or LocalMachine 'My' store.");
        public static readonly ErrorEntry CertificateNotFound = new ErrorEntry("CertificateNotFound", ObjectNotFound,
            "No certificate with a private key and thumbprint {0} is in the CurrentUser\\My or LocalMachine\\My store.",
            "Import the certificate with its private key, or pass it with -Certificate.");
        public static readonly ErrorEntry AccessTokenMissing = new ErrorEntry("AccessTokenMissing", InvalidArgument,
            "The access token is empty.", "Pass a bearer token for the environment with -AccessToken (a SecureString).");
        public static readonly ErrorEntry AccessTokenExpired = new ErrorEntry("AccessTokenExpired", AuthenticationError,
            "The access token given to Connect-D365 expired at {0:u}; a caller-supplied token cannot be refreshed.",
            "Get a new token and run Connect-D365 -AccessToken again, or connect with a client secret, certificate or managed identity so the module refreshes tokens itself.");
        public static readonly ErrorEntry TenantIdMissing = new ErrorEntry("TenantIdMissing", InvalidArgument,
            "No tenant was given.",
            "Give -TenantId, the directory id or domain of the app registration (for example contoso.onmicrosoft.com); only an AD FS authority host (-AuthorityHost https://adfs.contoso.com/adfs) needs none.");
        /// <summary>{0}: what the script threw.</summary>
        public static readonly ErrorEntry TokenProviderFailed = new ErrorEntry("TokenProviderFailed", AuthenticationError,
            "The -TokenProvider script failed: {0}",
            "Run the script on its own to see why (for Get-AzAccessToken: is Connect-AzAccount done in this runspace?), then run Connect-D365 -TokenProvider again.");
        public static readonly ErrorEntry TokenProviderNoToken = new ErrorEntry("TokenProviderNoToken", AuthenticationError,
            "The -TokenProvider script returned no token.",
            "Return the token as a string or SecureString, or an object with Token and ExpiresOn properties (as Get-AzAccessToken does).");
        public static readonly ErrorEntry TokenProviderTokenExpired = new ErrorEntry("TokenProviderTokenExpired", AuthenticationError,
            "The -TokenProvider script returned a token that expired at {0:u}.",
            "Return a fresh token (for Get-AzAccessToken, the token of a signed-in Az context for the environment's URL).");
        /// <summary>{0}: why the runspace cannot run it.</summary>
        public static readonly ErrorEntry TokenProviderUnavailable = new ErrorEntry("TokenProviderUnavailable", InvalidOperation,
            "A new token is needed, but the script given to Connect-D365 cannot run: {0}",
            "A script runs only in the runspace where Connect-D365 was run, when that runspace is idle or running a command of this module. Run Connect-D365 -TokenProvider in the runspace (or thread job) that uses the session.");
        /// <summary>{0}: what the script threw.</summary>
        public static readonly ErrorEntry ClientAssertionFailed = new ErrorEntry("ClientAssertionFailed", AuthenticationError,
            "The -ClientAssertion script failed: {0}",
            "Run the script on its own to see why, then run Connect-D365 -ClientAssertion again.");
        public static readonly ErrorEntry ClientAssertionEmpty = new ErrorEntry("ClientAssertionEmpty", InvalidArgument,
            "The client assertion is empty.",
            "Give -ClientAssertion a signed JWT (a federated token), or a script block that returns one; with -FederatedTokenFile, check that the file holds the token.");
        /// <summary>{0}: the environment variable.</summary>
        public static readonly ErrorEntry FederatedTokenFileMissing = new ErrorEntry("FederatedTokenFileMissing", InvalidArgument,
            "No federated token file was given and {0} is not set.",
            "Give -FederatedTokenFile the path of the file holding the federated token, or set {0} (the AKS workload identity webhook sets it).");
        /// <summary>{0}: the file.</summary>
        public static readonly ErrorEntry FederatedTokenFileNotFound = new ErrorEntry("FederatedTokenFileNotFound", ObjectNotFound,
            "The federated token file '{0}' cannot be read.",
            "Check the path and that this account may read it; on AKS, that the pod uses a service account with workload identity.");
        public static readonly ErrorEntry PublicClientFlowsDisabled = new ErrorEntry("PublicClientFlowsDisabled", AuthenticationError,
            "The app registration does not allow public client flows, so it cannot sign in with a device code.",
            "In the Azure portal, open the app registration > Authentication > Advanced settings and set 'Allow public client flows' to Yes, or sign in with a client secret or certificate instead.");
        public static readonly ErrorEntry DeviceCodeSignInExpired = new ErrorEntry("DeviceCodeSignInExpired", AuthenticationError,
            "The device code sign-in can no longer be refreshed silently (the sign-in expired, was revoked, or needs a new consent).",
            "Run Connect-D365 -DeviceCode again and sign in.");
        /// <summary>{0}: the advice that fits the AADSTS code of the answer.</summary>
        public static readonly ErrorEntry TokenRequestFailed = new ErrorEntry("TokenRequestFailed", AuthenticationError,
            "Microsoft Entra ID did not issue a token.", "{0}");
        /// <summary>{0}: the advice that fits the AADSTS code of the answer.</summary>
        public static readonly ErrorEntry ManagedIdentityTokenFailed = new ErrorEntry("ManagedIdentityTokenFailed", AuthenticationError,
            "Microsoft Entra ID did not issue a token.", "{0}");
        /// <summary>{0}: what failed; {1}: where the token comes from (the authority host, or the managed identity endpoint).</summary>
        public static readonly ErrorEntry TokenEndpointUnreachable = new ErrorEntry("TokenEndpointUnreachable", ConnectionError,
            "The token endpoint could not be reached: {0}.", "{1}");

        // Proxies
        /// <summary>{0}: where the address came from (-Proxy or a variable); {1}: the address, never with a user name or password; {2}: why.</summary>
        public static readonly ErrorEntry ProxyInvalid = new ErrorEntry("ProxyInvalid", InvalidArgument,
            "{0} holds the proxy address '{1}', which cannot be used: {2}.",
            "Give an http:// proxy address such as http://proxy.contoso.com:8080 (calls stay https end to end through it); pass a user name and password with -ProxyCredential, or in the variable as http://user:password@host:port.");
        public static readonly ErrorEntry ProxyCredentialConflict = new ErrorEntry("ProxyCredentialConflict", InvalidArgument,
            "-ProxyCredential and -ProxyUseDefaultCredentials were both given.",
            "Give -ProxyCredential for the proxy's user name and password, or -ProxyUseDefaultCredentials to sign in to the proxy as the account running the command, not both.");
        /// <summary>{0}: the proxy's address (no credential); {1}: the host the call was for; {2}: what was sent to the proxy.</summary>
        public static readonly ErrorEntry ProxyAuthenticationRequired = new ErrorEntry("ProxyAuthenticationRequired", AuthenticationError,
            "The proxy {0} refused the call to {1} with 407 Proxy Authentication Required: {2}.",
            "Pass the proxy's user name and password with -ProxyCredential (or in HTTPS_PROXY as http://user:password@host:port), or -ProxyUseDefaultCredentials to sign in to the proxy as the account running the command; ask the proxy's administrators whether this account may go through to {1}.");
        /// <summary>{0}: the proxy's address (no credential); {1}: the host the call was for; {2}: what failed; {3}: where the proxy was set.</summary>
        public static readonly ErrorEntry ProxyUnreachable = new ErrorEntry("ProxyUnreachable", ConnectionError,
            "The proxy {0} could not be reached for the call to {1}: {2}.",
            "Check the proxy's address and port in {3}, that the proxy is running and that this machine may connect to it.");

        // Files to upload and folders to save in
        public static readonly ErrorEntry EnqueuePathEmpty = new ErrorEntry("EnqueuePathEmpty", InvalidArgument,
            "The file path is empty.", "Give the path of a file to upload with -Path or -LiteralPath.");
        public static readonly ErrorEntry EnqueuePathIsDirectory = new ErrorEntry("EnqueuePathIsDirectory", InvalidArgument,
            "'{0}' is a folder, not a file.", "Give the files inside it, for example -Path '<folder>\\*.xml', or pipe Get-ChildItem -File.");
        public static readonly ErrorEntry EnqueueFileNotFound = new ErrorEntry("EnqueueFileNotFound", ObjectNotFound,
            "No file matches '{0}'.", "Check the path; -Path takes wildcards, -LiteralPath takes the name as is.");
        public static readonly ErrorEntry EnqueuePathNotFileSystem = new ErrorEntry("EnqueuePathNotFileSystem", InvalidArgument,
            "'{0}' is on the {1} provider; only files can be enqueued.", "Give the path of a file on a drive of the FileSystem provider.");
        /// <summary>{1}: where the file stays.</summary>
        public static readonly ErrorEntry EnqueueFileEmpty = new ErrorEntry("EnqueueFileEmpty", InvalidData,
            "The file '{0}' is empty.", "The service would create an empty message: check that it was written completely.{1}");
        /// <summary>{1}: where the file stays.</summary>
        public static readonly ErrorEntry EnqueueFileAccessDenied = new ErrorEntry("EnqueueFileAccessDenied", PermissionDenied,
            "The file '{0}' cannot be read: access is denied.", "Run as an account that may read the file, or change its permissions.{1}");
        public static readonly ErrorEntry EnqueueFileLocked = new ErrorEntry("EnqueueFileLocked", ResourceUnavailable,
            "The file '{0}' cannot be read now: {1}", "Another program may still be writing it: try again when it is done.");
        public static readonly ErrorEntry OutputPathEmpty = new ErrorEntry("OutputPathEmpty", InvalidArgument,
            "The output folder is empty.", "Give the folder to save files in with -OutputPath.");
        public static readonly ErrorEntry OutputPathIsFile = new ErrorEntry("OutputPathIsFile", InvalidArgument,
            "'{0}' is a file; -OutputPath needs a folder.", "Give a folder (it is created if missing).");
        /// <summary>{0}: what could not be done in which folder; {1}: what became of the message.</summary>
        public static readonly ErrorEntry OutputPathAccessDenied = new ErrorEntry("OutputPathAccessDenied", PermissionDenied,
            "Cannot {0}: access is denied.", "Choose a folder you may write to.{1}");
        /// <summary>{0}: the path. .NET Framework (Windows PowerShell 5.1) keeps Windows' 260-character limit on a full path.</summary>
        public static readonly ErrorEntry PathTooLong = new ErrorEntry("PathTooLong", InvalidArgument,
            "The path '{0}' is too long: Windows allows 260 characters in a full path unless long paths are enabled.",
            "Use a shorter path, such as C:\\D365\\inbox, or enable long paths with the Windows setting 'Enable Win32 long paths' (Group Policy, or LongPathsEnabled = 1 under HKLM\\SYSTEM\\CurrentControlSet\\Control\\FileSystem) and start a new window. PowerShell 7 has no such limit.");
        /// <summary>{0}: the path; {1}: what is wrong with it.</summary>
        public static readonly ErrorEntry PathInvalid = new ErrorEntry("PathInvalid", InvalidArgument,
            "'{0}' is not a usable path: {1}", "Check the path for characters a file name cannot hold (such as : * ? \" < > |) or a misplaced drive letter.");
        public static readonly ErrorEntry OutputPathUnusable = new ErrorEntry("OutputPathUnusable", WriteError,
            "The folder '{0}' cannot be created: {1}", "Choose another folder.");
        /// <summary>{0}: the file; {1}: what became of the item. Local failures of saving a file: never retried as network failures.</summary>
        public static readonly ErrorEntry FileTargetInUse = new ErrorEntry("FileTargetInUse", ResourceUnavailable,
            "'{0}' is open in another program or locked, so it cannot be replaced.", "Close the program that holds it, or save under another name.{1}");
        public static readonly ErrorEntry FileTargetIsFolder = new ErrorEntry("FileTargetIsFolder", WriteError,
            "'{0}' is a folder, so a file of that name cannot be saved there.", "Rename or move that folder away, or save under another name.{1}");
        public static readonly ErrorEntry FileNameReserved = new ErrorEntry("FileNameReserved", InvalidArgument,
            "'{0}' is not a usable file name: Windows reserves device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any extension) and drops a trailing dot or space.",
            "Choose another name.{1}");
        public static readonly ErrorEntry DiskFull = new ErrorEntry("DiskFull", WriteError,
            "The disk holding '{0}' is full.", "Free some space on it, or save somewhere else.{1}");

        // What the service answers
        public static readonly ErrorEntry RequestRejected = new ErrorEntry("RequestRejected", InvalidArgument,
            "{0}: the service rejected the request (400 Bad Request).", "Check the activity id (the recurring job's id), the entity name and the company.");
        /// <summary>{1}: the audience the token must have.</summary>
        public static readonly ErrorEntry Unauthorized = new ErrorEntry("Unauthorized", AuthenticationError,
            "{0}: the environment refused the token (401 Unauthorized).",
            "Check that the app (client id) is registered in the environment under System administration > Setup > Microsoft Entra ID applications, and that the token's audience is exactly '{1}' (lower case, no trailing slash).");
        public static readonly ErrorEntry Forbidden = new ErrorEntry("Forbidden", SecurityError,
            "{0}: the environment refused access (403 Forbidden).",
            "Add the app to the recurring job's authorization policy (Data management > Manage scheduled data jobs) and check the user mapped to the app.");
        public static readonly ErrorEntry NotFound = new ErrorEntry("NotFound", ObjectNotFound,
            "{0}: the environment has no such resource (404 Not Found).", "Check the environment URL and the activity id of the recurring job.");
        public static readonly ErrorEntry PayloadTooLarge = new ErrorEntry("PayloadTooLarge", LimitsExceeded,
            "{0}: the file is too large for the service (413).",
            "The enqueue API refuses bodies from about 36-50 MB: split the file, zip it as a data package, or use the package API for large data.");
        /// <summary>{1}: how far the throttling went (one 429 answer, or the session's whole budget).</summary>
        public static readonly ErrorEntry Throttled = new ErrorEntry("Throttled", LimitsExceeded,
            "{0}: the service throttled {1}.",
            "Connect-D365 -ThrottlingBudget allows a longer wait. Otherwise run at a quieter time, or spread the work: every client and job that signs in as the same app shares the service's limits.");
        public static readonly ErrorEntry ServiceUnavailable = new ErrorEntry("ServiceUnavailable", ResourceUnavailable,
            "{0}: the service failed ({1} {2}).", "Try again later; if it persists, check the environment's health.");
        public static readonly ErrorEntry ServiceError = new ErrorEntry("ServiceError", ResourceUnavailable,
            "{0}: the service failed ({1} {2}).", "Try again later; if it persists, check the environment's health.");
        public static readonly ErrorEntry UnexpectedStatus = new ErrorEntry("UnexpectedStatus", InvalidOperation,
            "{0}: the service answered {1} {2}.", "Check the environment URL; if it is right, try again later.");
        public static readonly ErrorEntry UnexpectedRedirect = new ErrorEntry("UnexpectedRedirect", InvalidOperation,
            "{0}: the environment answered with a redirect ({1}) to '{2}'.",
            "An on-premises environment serves its API under a path and redirects calls that lack it: give the whole URL, for example -Environment https://ax.contoso.com/namespaces/AXSF. Otherwise check the environment URL. The token is never sent on to a redirect's target.");
        /// <summary>{1}: " titled '<the page's title>'", or nothing.</summary>
        public static readonly ErrorEntry UnexpectedWebPage = new ErrorEntry("UnexpectedWebPage", InvalidData,
            "{0}: the service answered with a web page{1} instead of JSON.",
            "The URL may not be a D365 environment, or a proxy or sign-in page intercepted the call: check the environment URL and the proxy.");
        public static readonly ErrorEntry MalformedResponse = new ErrorEntry("MalformedResponse", InvalidData,
            "{0}: the service's answer is not the JSON the API documents ({1}).",
            "Check that the URL is a D365 Finance & Operations environment; if it is, try again later.");
        /// <summary>{2}: what was done before giving up, or nothing.</summary>
        public static readonly ErrorEntry ConnectionFailed = new ErrorEntry("ConnectionFailed", ConnectionError,
            "{0}: no complete answer from {1}: {2}.{3}", "Check the environment URL, the network and any proxy.");
        public static readonly ErrorEntry RequestTimedOut = new ErrorEntry("RequestTimedOut", OperationTimeout,
            "{0}: no complete answer from {1}: {2}.{3}", "Check the environment URL, the network and any proxy.");
        /// <summary>{0}: what is known of the upload's fate; {1}: where the file is now.</summary>
        public static readonly ErrorEntry EnqueueOutcomeUnknown = new ErrorEntry("EnqueueOutcomeUnknown", ConnectionError,
            "{0}",
            "Check the job's message history in the environment (Data management > Recurring data jobs > Manage messages) before sending it again.{1}");
        public static readonly ErrorEntry ExecutionNotStarted = new ErrorEntry("ExecutionNotStarted", ResourceUnavailable,
            "Message {0} has no execution yet: the service has not started processing it.", "Wait for it with Get-D365MessageStatus -Wait, then ask again.");
        public static readonly ErrorEntry ExecutionIdMissing = new ErrorEntry("ExecutionIdMissing", InvalidArgument,
            "The execution id is empty.", "Give -ExecutionId, or -MessageId to look the execution up.");
        public static readonly ErrorEntry StatusWaitTimeout = new ErrorEntry("StatusWaitTimeout", OperationTimeout,
            "{0} of {1} messages did not reach a terminal status within {2:0} s; their last status was written out.",
            "Wait longer with -TimeoutSeconds, or pipe the unfinished messages to Get-D365MessageStatus -Wait again later.");
        public static readonly ErrorEntry StatusContextAmbiguous = new ErrorEntry("StatusContextAmbiguous", InvalidArgument,
            "-FileName, -Company, -Path, -ActivityId and -EnqueuedAt describe one message, but {0} message ids were given with them.",
            "Give one -MessageId with them, or pipe the messages of Send-D365Enqueue (one per file).");

        // Dequeue and acknowledge
        /// <summary>{0}: the correlation id; {1}: the export job's activity id.</summary>
        public static readonly ErrorEntry ExportFileMissing = new ErrorEntry("ExportFileMissing", ObjectNotFound,
            "The file of export message {0} (job {1}) is gone from the service's storage.",
            "The message was not acknowledged and comes back every 30 minutes. Run the export job again for the data; take the message off the queue with -AcknowledgeMissing, or pipe this error's TargetObject to Confirm-D365Ack.");
        public static readonly ErrorEntry DownloadLocationInvalid = new ErrorEntry("DownloadLocationInvalid", InvalidData,
            "The dequeued message has no usable DownloadLocation ('{0}').",
            "The message stays on the queue and is redelivered; if it keeps happening, check the export job in the environment.");
        public static readonly ErrorEntry DownloadLocationForeignHost = new ErrorEntry("DownloadLocationForeignHost", SecurityError,
            "The DownloadLocation points to '{0}', not to the environment '{1}'; the module sends its token only to the environment and did not download it.",
            "The message was not acknowledged and stays on the queue. Check for a proxy or load balancer rewriting the service's answers.");
        /// <summary>{0}: what was being saved where.</summary>
        public static readonly ErrorEntry DownloadWriteFailed = new ErrorEntry("DownloadWriteFailed", WriteError,
            "{0} failed: {1}", "Check free disk space and that the folder is writable. The message was not acknowledged and stays on the queue.");
        public static readonly ErrorEntry AckBodyMissing = new ErrorEntry("AckBodyMissing", InvalidArgument,
            "There is no dequeue answer to acknowledge.", "Pipe the messages of Receive-D365Dequeue to Confirm-D365Ack.");
        public static readonly ErrorEntry AckPopReceiptMissing = new ErrorEntry("AckPopReceiptMissing", InvalidArgument,
            "Message {0} has neither its dequeue answer nor a pop receipt, so it cannot be acknowledged.",
            "Pipe the messages of Receive-D365Dequeue to Confirm-D365Ack, or give -PopReceipt.");
        public static readonly ErrorEntry DequeueAckFailed = new ErrorEntry("DequeueAckFailed", ConnectionError,
            "Message {0} was saved to '{1}' but acknowledging it failed: {2}",
            "Nothing to do: the service delivers it again in 30 minutes, and the next run acknowledges it without a second copy.");

        // Folder workflows
        public static readonly ErrorEntry FolderPathEmpty = new ErrorEntry("FolderPathEmpty", InvalidArgument,
            "The folder path is empty.", "Give the folder with {0}.");
        public static readonly ErrorEntry FolderPathIsFile = new ErrorEntry("FolderPathIsFile", InvalidArgument,
            "'{0}' is a file; {1} needs a folder.", "Give the folder that holds the files, not a file in it.");
        public static readonly ErrorEntry FolderNotFound = new ErrorEntry("FolderNotFound", ObjectNotFound,
            "The folder '{0}' does not exist.", "Check the path, and that the drive or share is mounted for the account the task runs as.");
        public static readonly ErrorEntry FolderStateFolderIsFile = new ErrorEntry("FolderStateFolderIsFile", InvalidArgument,
            "'{0}' is a file, but the workflow keeps its '{1}' files in a folder of that name.", "Rename or move that file away.");
        /// <summary>{0}: create or write.</summary>
        public static readonly ErrorEntry FolderAccessDenied = new ErrorEntry("FolderAccessDenied", PermissionDenied,
            "Cannot {0} '{1}': access is denied.",
            "Run as an account that may create, write and rename files in the folder (the journal and the state folders live there).");
        /// <summary>{0}: create or write; {3}: what becomes of the file.</summary>
        public static readonly ErrorEntry FolderWriteFailed = new ErrorEntry("FolderWriteFailed", WriteError,
            "Cannot {0} '{1}': {2}", "Check free disk space and that the account may write in the folder.{3}");
        /// <summary>{3}: where the file stays.</summary>
        public static readonly ErrorEntry FolderMoveFailed = new ErrorEntry("FolderMoveFailed", WriteError,
            "Cannot move '{0}' to '{1}': {2}",
            "Give the account permission to rename files in both folders, or close the program that holds the file. {3}");
        public static readonly ErrorEntry FolderFileNameInvalid = new ErrorEntry("FolderFileNameInvalid", InvalidArgument,
            "The name of '{0}' holds a line break, which the journal cannot record.", "Rename the file; it stays in the inbox until then.");
        /// <summary>{0}: the pattern; {1}: why the regular expression does not parse.</summary>
        public static readonly ErrorEntry CompanyPatternInvalid = new ErrorEntry("CompanyPatternInvalid", InvalidArgument,
            "-CompanyPattern '{0}' is not a valid regular expression: {1}",
            "Give a .NET regular expression with a group named company, for example '^(?<company>[^_]+)_' for USMF_customers.csv.");
        public static readonly ErrorEntry CompanyPatternWithoutGroup = new ErrorEntry("CompanyPatternWithoutGroup", InvalidArgument,
            "-CompanyPattern '{0}' has no group named 'company', so it cannot say which part of a file name is the company.",
            "Name that part (?<company>...), for example '^(?<company>[^_]+)_' for USMF_customers.csv.");
        /// <summary>{0}: which parameters clash, and why.</summary>
        public static readonly ErrorEntry CompanyParametersConflict = new ErrorEntry("CompanyParametersConflict", InvalidArgument,
            "The company parameters do not go together: {0}.",
            "Give -CompanyFrom FileName with -CompanyPattern and without -Company, or -CompanyFrom Subfolder with -Company for the files directly in the inbox.");
        /// <summary>{0}: the file; {1}: the pattern.</summary>
        public static readonly ErrorEntry CompanyNotInFileName = new ErrorEntry("CompanyNotInFileName", InvalidData,
            "The name of '{0}' does not match -CompanyPattern '{1}' (or its company group is empty), so its company is unknown. It stays in the inbox and is not sent.",
            "Rename the file so the pattern finds its company (for example USMF_customers.csv), or change -CompanyPattern; the next run sends it.");
        public static readonly ErrorEntry FolderPendingWithoutMessageId = new ErrorEntry("FolderPendingWithoutMessageId", InvalidData,
            "'{0}' waits in 'pending' but the journal '{1}' has no message id for it.",
            "Was the journal deleted or replaced? Look the file up in the job's message history; move it to 'processed' or 'failed' by hand, or back into the inbox to send it again.");
        public static readonly ErrorEntry FolderBusy = new ErrorEntry("FolderBusy", ResourceUnavailable,
            "Another run holds the lock '{0}': it is working on this folder now.",
            "Let it finish, or stop it, before starting another: two runs at once could send a file twice. A run that was killed releases the lock by itself.");
        /// <summary>{0}: the journal. Windows: another program opened it without sharing writes.</summary>
        public static readonly ErrorEntry JournalInUse = new ErrorEntry("JournalInUse", ResourceUnavailable,
            "The journal '{0}' is open in another program that keeps others from writing it: Excel, for example, locks a CSV file while it shows it.",
            "Close it there (to look at it during a run, copy it or read it with Import-Csv, which does not lock it), then run again. The run took no step.");
        public static readonly ErrorEntry JournalFolderNotFound = new ErrorEntry("JournalFolderNotFound", ObjectNotFound,
            "The journal's folder '{0}' does not exist.", "Create it, or give -JournalPath in an existing folder.");
        public static readonly ErrorEntry JournalWriteFailed = new ErrorEntry("JournalWriteFailed", WriteError,
            "Writing the journal '{0}' failed: {1}",
            "Check free disk space and that the folder is writable. No step was taken that the journal does not record; run again once it is fixed.");
        /// <summary>{0}: the journal; {1}: the line number; {2}: what is wrong with it.</summary>
        public static readonly ErrorEntry JournalLineInvalid = new ErrorEntry("JournalLineInvalid", InvalidData,
            "Line {1} of the journal '{0}' cannot be read: {2}.",
            "Was the journal edited? Correct or remove that line; the run took no step.");
        /// <summary>{0}: the entry and where it points; {1}: what became of the package.</summary>
        public static readonly ErrorEntry PackageEntryOutsideFolder = new ErrorEntry("PackageEntryOutsideFolder", SecurityError,
            "{0} would be written outside its folder.", "{1}");
        /// <summary>{2}: what became of the package.</summary>
        public static readonly ErrorEntry PackageUnreadable = new ErrorEntry("PackageUnreadable", InvalidData,
            "The package '{0}' is not a readable zip: {1}", "{2}");
        /// <summary>{0}: the package; {1}: the entry and how it breaks the rule; {2}: what became of the package.</summary>
        public static readonly ErrorEntry PackageEntryUnsafe = new ErrorEntry("PackageEntryUnsafe", SecurityError,
            "The package '{0}' cannot be unpacked safely: {1}.", "{2}");
        /// <summary>{0}: the package; {1}: its unpacked size limit in bytes; {2}: what became of the package.</summary>
        public static readonly ErrorEntry PackageTooLargeToExpand = new ErrorEntry("PackageTooLargeToExpand", LimitsExceeded,
            "The package '{0}' would unpack to more than {1:N0} bytes (a zip bomb, or a damaged package).", "{2}");

        // Data packages
        public static readonly ErrorEntry PackagePathNotFound = new ErrorEntry("PackagePathNotFound", ObjectNotFound,
            "No file matches '{0}'.", "Check the path; -Path takes wildcards.");
        public static readonly ErrorEntry PackagePathNotFileSystem = new ErrorEntry("PackagePathNotFileSystem", InvalidArgument,
            "'{0}' is on the {1} provider; a data file or package must be a file.", "Give the path of a file on a drive of the FileSystem provider.");
        public static readonly ErrorEntry PackageEntityNameCount = new ErrorEntry("PackageEntityNameCount", InvalidArgument,
            "{0} data files were given with {1} entity names.",
            "Give one -EntityName per -Path file, in the same order, or use -Entity with one hashtable per file.");
        /// <summary>{0}: what is wrong with the hashtable.</summary>
        public static readonly ErrorEntry PackageEntityInvalid = new ErrorEntry("PackageEntityInvalid", InvalidArgument,
            "{0}", "Use the keys Path, EntityName, SourceFormat, ExecutionUnit, Level and Sequence.");
        public static readonly ErrorEntry PackageNoDataFiles = new ErrorEntry("PackageNoDataFiles", InvalidArgument,
            "A data package needs at least one data file.", "Give the data files with -Path (and -EntityName), or with -Entity.");
        public static readonly ErrorEntry PackageOutputPathEmpty = new ErrorEntry("PackageOutputPathEmpty", InvalidArgument,
            "The package path is empty.", "Give the zip to write with -OutputPath, for example -OutputPath .\\CustomerGroups.zip.");
        public static readonly ErrorEntry PackageOutputPathIsFolder = new ErrorEntry("PackageOutputPathIsFolder", InvalidArgument,
            "'{0}' is a folder; -OutputPath is the zip file to write.", "Give a file name, for example -OutputPath '{1}'.");
        /// <summary>{1}: the parameters that name the file.</summary>
        public static readonly ErrorEntry PackageOutputExists = new ErrorEntry("PackageOutputExists", WriteError,
            "'{0}' already exists.", "Choose another {1}, or add -Force to replace it.");
        public static readonly ErrorEntry PackageDuplicateFileName = new ErrorEntry("PackageDuplicateFileName", InvalidArgument,
            "Two files would be '{0}' in the package (or one is named like Manifest.xml or PackageHeader.xml).", "A package is flat: give each data file its own name.");
        public static readonly ErrorEntry PackageEntityNameMissing = new ErrorEntry("PackageEntityNameMissing", InvalidArgument,
            "The file '{0}' has no entity name.", "Give -EntityName with the entity's display name as in the data project, for example 'Customer groups'.");
        public static readonly ErrorEntry PackageSourceFormatMissing = new ErrorEntry("PackageSourceFormatMissing", InvalidArgument,
            "The file '{0}' has no source format.", "Give -SourceFormat with the data project's format, for example CSV-Unicode, XML-Element or EXCEL.");
        public static readonly ErrorEntry PackageTemplateInvalid = new ErrorEntry("PackageTemplateInvalid", InvalidData,
            "The Manifest.xml of the template '{0}' cannot be read: {1}.",
            "Give a package exported from the data project (Export-D365DataPackage, or Download package in the data project).");
        public static readonly ErrorEntry PackageTemplateEntityNotFound = new ErrorEntry("PackageTemplateEntityNotFound", ObjectNotFound,
            "The template has no entity for '{0}'. It has: {1}.", "Give -EntityName with one of the template's entities, or name the data file as in the template.");
        /// <summary>{1}: why it is not one.</summary>
        public static readonly ErrorEntry NotADataPackage = new ErrorEntry("NotADataPackage", InvalidData,
            "'{0}' is not a data package: {1}.",
            "Build one with New-D365DataPackage -Path <data file> -EntityName <entity> -SourceFormat <format> -OutputPath <zip>, or send a single data file with Send-D365Enqueue.");
        public static readonly ErrorEntry PackageInboxRawFile = new ErrorEntry("PackageInboxRawFile", InvalidData,
            "'{0}' is not a data package, and the inbox imports into data project '{1}' as packages.",
            "Give -EntityName (and -SourceFormat) to have a package built for each data file, or move the file out of the inbox; it stays there until then.");
        public static readonly ErrorEntry PackageNameInvalid = new ErrorEntry("PackageNameInvalid", InvalidArgument,
            "'{0}' cannot be a file name.", "Give -PackageName a plain name, for example CustomerGroups.");
        public static readonly ErrorEntry DefinitionGroupIdMissing = new ErrorEntry("DefinitionGroupIdMissing", InvalidArgument,
            "-DefinitionGroupId is empty.", "Give -DefinitionGroupId with the data project's name.");
        public static readonly ErrorEntry LegalEntityIdMissing = new ErrorEntry("LegalEntityIdMissing", InvalidArgument,
            "-LegalEntityId is empty.", "Give -LegalEntityId with the company, for example usmf.");
        public static readonly ErrorEntry EntityNameMissing = new ErrorEntry("EntityNameMissing", InvalidArgument,
            "-EntityName is empty.", "Give -EntityName with the entity's display name, for example 'Customer groups'.");
        /// <summary>{0}: what was being written where.</summary>
        public static readonly ErrorEntry PackageWriteFailed = new ErrorEntry("PackageWriteFailed", WriteError,
            "{0} failed: {1}", "Check free disk space and that the folder is writable.");
        public static readonly ErrorEntry PackageFileChanged = new ErrorEntry("PackageFileChanged", ReadError,
            "'{0}' became shorter while it was uploaded.", "Do not change the package while it is imported; run the import again.");
        public static readonly ErrorEntry PackageUrlInvalid = new ErrorEntry("PackageUrlInvalid", InvalidData,
            "{0}: the service did not answer with an https storage URL ('{1}').",
            "Check that the environment's data management framework is set up; try again later.");
        public static readonly ErrorEntry PackageStorageUnreachable = new ErrorEntry("PackageStorageUnreachable", ConnectionError,
            "{0}: no complete answer from the storage host {1}: {2}.{3}",
            "Check the network and any proxy: the storage host must be reachable from here as well as the environment.");
        public static readonly ErrorEntry PackageStorageRefused = new ErrorEntry("PackageStorageRefused", PermissionDenied,
            "{0}", "The storage URL the service handed out has expired or was refused (it is valid for about 35 minutes): run the command again for a fresh one.");
        public static readonly ErrorEntry PackageBlobNotFound = new ErrorEntry("PackageBlobNotFound", ObjectNotFound,
            "{0}", "The package is no longer in storage (the service deletes it after 7 days): export it again.");
        public static readonly ErrorEntry PackageTooLarge = new ErrorEntry("PackageTooLarge", LimitsExceeded,
            "{0}", "The storage refused the size of one request; packages are limited to 256 MB by the service.");
        public static readonly ErrorEntry PackageStorageFailed = new ErrorEntry("PackageStorageFailed", ResourceUnavailable,
            "{0}", "The call was retried where that was safe. Try again later.");
        public static readonly ErrorEntry PackageStorageRejected = new ErrorEntry("PackageStorageRejected", InvalidOperation,
            "{0}", "The storage host refused the call as it was made: run the command again; if it fails the same way, report it with the output of Get-Error.");
        /// <summary>{0}: the value given; {1}, {2}: the range.</summary>
        public static readonly ErrorEntry BlockConcurrencyOutOfRange = new ErrorEntry("BlockConcurrencyOutOfRange", InvalidArgument,
            "-BlockConcurrency {0} is outside {1} to {2}.", "Give -BlockConcurrency from {1} to {2} (default 4): each block in flight holds 4 MiB of memory.");
        /// <summary>{0}: the call and what its answer said that does not fit what was asked or answered before.</summary>
        public static readonly ErrorEntry PackageDownloadMismatch = new ErrorEntry("PackageDownloadMismatch", InvalidData,
            "{0}", "The storage host's answer does not fit the package it described, so nothing was saved: run the command again; if it fails the same way, report it with the output of Get-Error.");
        /// <summary>{0}: the action; {1}: why it may have been taken; {2}: the tries ("once (0.4 s)").</summary>
        public static readonly ErrorEntry PackageOutcomeUnknown = new ErrorEntry("PackageOutcomeUnknown", ConnectionError,
            "{0}: {1}. Sent {2}.",
            "It was not sent again, to avoid running it twice. Check the data project's execution history in the environment before you run it again.");
        /// <summary>{3}: the summary page of the execution, or where to find it.</summary>
        public static readonly ErrorEntry PackageExportFailed = new ErrorEntry("PackageExportFailed", InvalidOperation,
            "The export of data project '{0}' (execution {1}) ended {2}.", "Pipe it to Get-D365ExecutionError for the errors, or open {3}.");
        public static readonly ErrorEntry ExecutionDetailsNotFound = new ErrorEntry("ExecutionDetailsNotFound", ObjectNotFound,
            "The service has no details of execution '{0}' (yet).",
            "Right after an import or export starts this lasts a short while: use -Wait, or ask again in a minute. Otherwise check the execution id.");
        public static readonly ErrorEntry ExecutionWaitTimeout = new ErrorEntry("ExecutionWaitTimeout", OperationTimeout,
            "Execution {0} did not finish within {1:0} s; its last status was {2}.",
            "Wait longer with -TimeoutSeconds, or follow it later with Get-D365ExecutionStatus -ExecutionId <id> -Wait.");
        public static readonly ErrorEntry ErrorKeysFileTimeout = new ErrorEntry("ErrorKeysFileTimeout", OperationTimeout,
            "The error keys file of '{0}' in execution {1} was not ready within {2:0} s.",
            "Ask again later with Get-D365ExecutionError -ExecutionId <id> -EntityName <entity>.");

        // The installed module
        public static readonly ErrorEntry ModuleFileMissing = new ErrorEntry(ModuleFileTexts.MissingId, ObjectNotFound,
            ModuleFileTexts.Missing, ModuleFileTexts.Advice);
        public static readonly ErrorEntry ModuleFileDamaged = new ErrorEntry(ModuleFileTexts.DamagedId, InvalidData,
            ModuleFileTexts.Damaged, ModuleFileTexts.Advice);
        /// <summary>
        /// Raised by module/RecurringIntegrations.Runtime.psm1 before any assembly loads, so it cannot take its texts from
        /// here: {0}: what the runtime needs; {1}: what it found; {2}: what to install. Keep the two alike.
        /// </summary>
        public static readonly ErrorEntry RuntimeNotSupported = new ErrorEntry("RuntimeNotSupported", ResourceUnavailable,
            "RecurringIntegrations needs {0} or later; this computer has {1}.", "Install {2}.");
        public static readonly ErrorEntry ModuleFileBlocked = new ErrorEntry(ModuleFileTexts.BlockedId, SecurityError,
            ModuleFileTexts.Blocked, ModuleFileTexts.BlockedAdvice);

        /// <summary>{0}: what failed and what became of the item; {1}: the exception's type; {2}: its message.</summary>
        public static readonly ErrorEntry UnexpectedError = new ErrorEntry("UnexpectedError", NotSpecified,
            "{0}: {1}: {2}",
            "This is a fault of the module, not of your input: please report it with the command you ran, the module version " +
            "((Get-Module RecurringIntegrations).Version), the PowerShell version ($PSVersionTable.PSVersion) and the output of Get-Error " +
            "(remove secrets and environment names first).");

        /// <summary>Every entry, in the order above.</summary>
        public static IReadOnlyList<ErrorEntry> All { get; } = typeof(ErrorCatalog)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(ErrorEntry))
            .Select(f => (ErrorEntry)f.GetValue(null)!)
            .ToArray();
    }
}
