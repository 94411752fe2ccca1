using System.Security.Cryptography.X509Certificates;

namespace RecurringIntegrations.Emulator;

/// <summary>How one emulated D365 environment and its token endpoint behave. Read once at start.</summary>
public sealed class EmulatorOptions
{
    /// <summary>Serve https with a self-signed certificate for 127.0.0.1 and localhost, made in memory.</summary>
    public bool UseHttps { get; set; } = true;

    /// <summary>
    /// The clock of the emulated service: processing, redelivery, package executions, tokens, SAS expiry and the times it
    /// reports. A test sets a manual clock to move the service's time without waiting; request pacing (throttling, the
    /// request log and injected delays) stays on real time, because it is about real calls.
    /// </summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>On-premises: the API answers under this path only (<see cref="OnPremisesPath"/>), a call without it gets a
    /// 302 to the same call under it, and clients sign in at the AD FS token endpoint. Null: a cloud environment.</summary>
    public string? BasePath { get; set; }

    /// <summary>Where every on-premises environment serves its API (the gateway's namespace of the AOS).</summary>
    public const string OnPremisesPath = "/namespaces/AXSF";

    public string TenantId { get; set; } = "00000000-0000-0000-0000-00000000a1a1";

    public string ClientId { get; set; } = "00000000-0000-0000-0000-00000000c1c1";

    public string ClientSecret { get; set; } = "emulator-secret";

    /// <summary>Public certificates accepted for a client_assertion (an RS256 or PS256 JWT signed by one of them).</summary>
    public List<X509Certificate2> ClientCertificates { get; } = new();

    /// <summary>Value the managed identity endpoint expects in X-IDENTITY-HEADER.</summary>
    public string ManagedIdentityHeader { get; set; } = "emulator-identity-header";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>A device code sign-in is approved this long after the code was handed out; null waits for
    /// POST /emulator/devicecode/approve, as for a person who has not entered the code yet.</summary>
    public TimeSpan? DeviceCodeApprovalDelay { get; set; }

    /// <summary>The app registration's "Allow public client flows": false refuses device code sign-in with AADSTS7000218.</summary>
    public bool AllowPublicClientFlows { get; set; } = true;

    /// <summary>A dequeued message that is not acknowledged becomes dequeueable again after this.</summary>
    public TimeSpan RedeliveryTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>An import is Enqueued until 1x this, then Processing (or Preprocessing), then terminal from 2x.</summary>
    public TimeSpan ProcessingDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The production quirk: DownloadLocation comes back as http://host:80/... whatever the client used.</summary>
    public bool HttpDownloadLocation { get; set; }

    /// <summary>Host name put in DownloadLocation; null uses the host the client called.</summary>
    public string? DownloadHost { get; set; }

    /// <summary>Enqueue bodies longer than this are refused with 413; null accepts any size.</summary>
    public long? MaxEnqueueBytes { get; set; }

    /// <summary>Host name of the blob storage behind the package API: the same server answers it, as a second host.</summary>
    public string BlobHost { get; set; } = "localhost";

    /// <summary>Folder of the blob store's files. Default: a new folder under the temp folder, removed when the emulator
    /// stops cleanly; a standalone emulator that may be killed is given one inside its work folder.</summary>
    public string? BlobFolder { get; set; }

    /// <summary>Folder that keeps queues, messages, package executions, blobs and the server certificate across restarts
    /// (<see cref="Emulator.DataFolder"/>); null keeps them in memory.</summary>
    public string? DataFolder { get; set; }

    /// <summary>Added once to every call of the blob storage, before its answer starts (after a Put's body has arrived), as
    /// the round trip to a storage account far away; the bytes themselves are not slowed (scenario setting
    /// storageLatencyMs, or --storage-latency-ms).</summary>
    public TimeSpan StorageLatency { get; set; }

    /// <summary>How long the SAS URLs of the blob store stay valid (the service's are about 35 minutes).</summary>
    public TimeSpan SasLifetime { get; set; } = TimeSpan.FromMinutes(35);

    /// <summary>Answer ExportToPackage and GetExportedPackageUrl with value.value, as the docs show. The service sends a flat
    /// value and Microsoft's clients cannot read the nested one, so no client of the standalone emulator gets it: only tests
    /// that prove a client accepts both shapes turn it on.</summary>
    internal bool NestedPackageValues { get; set; }

    /// <summary>The status of "Execution details were not found" right after a package execution starts: seen as 400 and as 500.</summary>
    public int ExecutionNotFoundStatusCode { get; set; } = 400;

    /// <summary>Which package executions first answer "Execution details were not found" (for half of <see cref="ProcessingDelay"/>),
    /// as the service does only sometimes: every Nth one (the Nth, the 2Nth, ...). 1 = every execution, 0 = none; default 2,
    /// so the first execution of a fresh emulator is found at once and the second is not.</summary>
    public int ExecutionNotFoundEvery { get; set; } = 2;

    /// <summary>Serve ImportFromPackageAsync and ExportToPackageAsync. Off, they answer 404 as in an environment that lacks
    /// them, so clients fall back to the synchronous actions (scenario setting asyncPackageActions, or --sync-package-actions).</summary>
    public bool AsyncPackageActions { get; set; } = true;

    /// <summary>How many entities GET /Metadata/DataEntities answers per page before its @odata.nextLink.</summary>
    public int DataEntitiesPageSize { get; set; } = 100;

    /// <summary>The environment's data entities (GET /Metadata/DataEntities). Left empty, <see cref="WellKnown.DataEntities"/>.</summary>
    public List<EmulatedDataEntity> DataEntities { get; } = new();

    /// <summary>Data projects the package API knows; an import of a package creates its data project when missing.</summary>
    public List<DefinitionGroup> DefinitionGroups { get; } = new();

    /// <summary>Throttle /api and /data calls per client (the token's appid) as the service does; null does not throttle.</summary>
    public ThrottlingOptions? Throttling { get; set; }

    /// <summary>Recurring jobs the environment knows. Left empty, <see cref="WellKnown"/>'s two are registered.</summary>
    public List<EmulatorActivity> Activities { get; } = new();
}

/// <summary>
/// A data entity as /Metadata/DataEntities lists it. <paramref name="Label"/> is its display name in data projects, the text
/// /Metadata/Labels answers for its <paramref name="LabelId"/>; left null the id is @Emulator:&lt;Name&gt;, empty the entity has no label.
/// </summary>
public sealed record EmulatedDataEntity(string Name, string PublicEntityName, string PublicCollectionName, string Label, string Category,
    bool IsReadOnly = false, bool DataManagementEnabled = true, string? LabelId = null)
{
    /// <summary>The label id the metadata lists, null for an entity without a label.</summary>
    public string? EffectiveLabelId => LabelId is null ? "@Emulator:" + Name : LabelId.Length == 0 ? null : LabelId;
}

public sealed record EmulatorActivity(Guid Id, ActivityKind Kind, string Name);

public enum ActivityKind
{
    Import,
    Export,
}

/// <summary>The activities (and data project) registered when <see cref="EmulatorOptions.Activities"/> is left empty.</summary>
public static class WellKnown
{
    public static readonly Guid ImportActivity = new("6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01");
    public static readonly Guid ExportActivity = new("6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02");

    /// <summary>The data project registered when <see cref="EmulatorOptions.DefinitionGroups"/> is left empty.</summary>
    public const string DefinitionGroup = "Emulator package project";

    /// <summary>
    /// A realistic slice of an environment's data entities (names as in a Finance and Operations environment; label ids in the
    /// application's styles, @SYS&lt;number&gt; and @&lt;LabelFile&gt;:&lt;Name&gt;, not the application's own ids).
    /// </summary>
    public static readonly IReadOnlyList<EmulatedDataEntity> DataEntities = new EmulatedDataEntity[]
    {
        new("CustCustomerGroupEntity", "CustomerGroup", "CustomerGroups", "Customer groups", "Reference", LabelId: "@SYS11904"),
        new("CustCustomerV3Entity", "CustomerV3", "CustomersV3", "Customers V3", "Master", LabelId: "@AccountsReceivable:CustomersV3"),
        new("CustCustomerPostingProfileEntity", "CustomerPostingProfile", "CustomerPostingProfiles", "Customer posting profiles", "Reference", LabelId: "@SYS21698"),
        new("CustCustomerPaymentJournalLineEntity", "CustomerPaymentJournalLine", "CustomerPaymentJournalLines", "Customer payment journal line", "Document", LabelId: "@AccountsReceivable:CustomerPaymentJournalLine"),
        new("CustInvoiceJourEntity", "CustomerInvoiceJournalHeader", "CustomerInvoiceJournalHeaders", "Customer invoice journal headers", "Document", IsReadOnly: true, LabelId: "@AccountsReceivable:CustomerInvoiceJournalHeaders"),
        new("CustParametersEntity", "AccountsReceivableParameters", "AccountsReceivableParameters", "Accounts receivable parameters", "Parameters", LabelId: "@SYS7137"),
        new("VendVendorGroupEntity", "VendorGroup", "VendorGroups", "Vendor groups", "Reference", LabelId: "@SYS11905"),
        new("VendVendorV2Entity", "VendorV2", "VendorsV2", "Vendors V2", "Master", LabelId: "@AccountsPayable:VendorsV2"),
        new("EcoResReleasedProductV2Entity", "ReleasedProductV2", "ReleasedProductsV2", "Released products V2", "Master", LabelId: "@SCM:ReleasedProductsV2"),
        new("InventWarehouseEntity", "Warehouse", "Warehouses", "Warehouses", "Master", LabelId: "@SYS6437"),
        new("LedgerMainAccountEntity", "MainAccount", "MainAccounts", "Main accounts", "Master", LabelId: "@SYS135620"),
        new("LedgerJournalLineEntity", "GeneralJournalLine", "GeneralJournalLines", "General journal lines", "Document", LabelId: "@GeneralLedger:GeneralJournalLines"),
        new("SalesOrderHeaderV2Entity", "SalesOrderHeaderV2", "SalesOrderHeadersV2", "Sales order headers V2", "Document", LabelId: "@SCM:SalesOrderHeadersV2"),
        new("SalesOrderLineV2Entity", "SalesOrderLineV2", "SalesOrderLinesV2", "Sales order lines V2", "Document", LabelId: "@SCM:SalesOrderLinesV2"),
        new("PurchPurchaseOrderHeaderV2Entity", "PurchaseOrderHeaderV2", "PurchaseOrderHeadersV2", "Purchase order headers V2", "Document", LabelId: "@SCM:PurchaseOrderHeadersV2"),
        new("ExchangeRateEntity", "ExchangeRate", "ExchangeRates", "Exchange rates", "Reference", LabelId: "@SYS4083"),
        new("SystemUserEntity", "SystemUser", "SystemUsers", "Users", "Reference", DataManagementEnabled: false, LabelId: "@SYS25412"),
    };
}
