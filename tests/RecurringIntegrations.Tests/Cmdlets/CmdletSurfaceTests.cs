using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace RecurringIntegrations.Tests.Cmdlets
{
    /// <summary>The public surface of design.md, proved on the built module without PowerShell.</summary>
    public sealed class CmdletSurfaceTests
    {
        private const string All = "__AllParameterSets";

        private static readonly string[] DesignCmdlets =
        {
            "Connect-D365", "Get-D365Session", "Disconnect-D365", "Send-D365Enqueue", "Receive-D365Dequeue",
            "Confirm-D365Ack", "Get-D365MessageStatus", "Get-D365ExecutionError", "Invoke-D365FolderImport", "Invoke-D365FolderExport",
            // Data packages and the package API
            "New-D365DataPackage", "Import-D365DataPackage", "Export-D365DataPackage", "Get-D365ExecutionStatus",
            "Initialize-D365DataManagement", "Get-D365DataEntity",
        };

        // cmdlet, parameter, parameter set, mandatory, by value, by property name, type
        public static readonly TheoryData<string, string, string, bool, bool, bool, string> DesignParameters = new()
        {
            { "Connect-D365", "Environment", All, true, false, false, "System.String" },
            { "Connect-D365", "TenantId", "ClientSecret", false, false, false, "System.String" },
            { "Connect-D365", "ClientId", "ClientSecret", true, false, false, "System.String" },
            { "Connect-D365", "ClientSecret", "ClientSecret", true, false, false, "System.Security.SecureString" },
            { "Connect-D365", "TenantId", "Credential", false, false, false, "System.String" },
            { "Connect-D365", "Credential", "Credential", true, false, false, "System.Management.Automation.PSCredential" },
            { "Connect-D365", "TenantId", "CertificateThumbprint", false, false, false, "System.String" },
            { "Connect-D365", "ClientId", "CertificateThumbprint", true, false, false, "System.String" },
            { "Connect-D365", "CertificateThumbprint", "CertificateThumbprint", true, false, false, "System.String" },
            { "Connect-D365", "TenantId", "Certificate", false, false, false, "System.String" },
            { "Connect-D365", "ClientId", "Certificate", true, false, false, "System.String" },
            { "Connect-D365", "Certificate", "Certificate", true, false, false, "System.Security.Cryptography.X509Certificates.X509Certificate2" },
            { "Connect-D365", "ManagedIdentity", "ManagedIdentity", true, false, false, "System.Management.Automation.SwitchParameter" },
            { "Connect-D365", "ClientId", "ManagedIdentity", false, false, false, "System.String" },
            { "Connect-D365", "AccessToken", "AccessToken", true, false, false, "System.Security.SecureString" },
            { "Connect-D365", "TokenProvider", "TokenProvider", true, false, false, "System.Management.Automation.ScriptBlock" },
            { "Connect-D365", "TenantId", "ClientAssertion", false, false, false, "System.String" },
            { "Connect-D365", "ClientId", "ClientAssertion", true, false, false, "System.String" },
            { "Connect-D365", "ClientAssertion", "ClientAssertion", true, false, false, "System.Object" },
            { "Connect-D365", "TenantId", "FederatedTokenFile", false, false, false, "System.String" },
            { "Connect-D365", "ClientId", "FederatedTokenFile", true, false, false, "System.String" },
            { "Connect-D365", "FederatedTokenFile", "FederatedTokenFile", true, false, false, "System.String" },
            { "Connect-D365", "TenantId", "DeviceCode", false, false, false, "System.String" },
            { "Connect-D365", "ClientId", "DeviceCode", true, false, false, "System.String" },
            { "Connect-D365", "DeviceCode", "DeviceCode", true, false, false, "System.Management.Automation.SwitchParameter" },
            { "Connect-D365", "AuthorityHost", All, false, false, false, "System.Uri" },
            { "Connect-D365", "SkipCertificateCheck", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Send-D365Enqueue", "ActivityId", All, true, false, false, "System.Guid" },
            { "Send-D365Enqueue", "Path", "Path", true, true, true, "System.String[]" },
            { "Send-D365Enqueue", "LiteralPath", "LiteralPath", true, false, true, "System.String[]" },
            { "Send-D365Enqueue", "EntityName", All, false, false, false, "System.String" },
            { "Send-D365Enqueue", "Company", All, false, false, true, "System.String" },
            { "Send-D365Enqueue", "ExternalIdentifier", All, false, false, false, "System.String" },
            { "Send-D365Enqueue", "ThrottleLimit", All, false, false, false, "System.Int32" },
            { "Send-D365Enqueue", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Receive-D365Dequeue", "ActivityId", All, true, false, false, "System.Guid" },
            { "Receive-D365Dequeue", "ThrottleLimit", All, false, false, false, "System.Int32" },
            { "Receive-D365Dequeue", "OutputPath", All, true, false, false, "System.String" },
            { "Receive-D365Dequeue", "MaxCount", All, false, false, false, "System.Int32" },
            { "Receive-D365Dequeue", "Force", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Receive-D365Dequeue", "Acknowledge", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Receive-D365Dequeue", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Confirm-D365Ack", "ActivityId", "Properties", true, false, true, "System.Guid" },
            { "Confirm-D365Ack", "CorrelationId", "Properties", true, false, true, "System.Guid" },
            { "Confirm-D365Ack", "PopReceipt", "Properties", false, false, true, "System.String" },
            { "Confirm-D365Ack", "DownloadLocation", "Properties", false, false, true, "System.String" },
            { "Confirm-D365Ack", "DequeueResponse", "Properties", false, false, true, "System.String" },
            { "Confirm-D365Ack", "InputObject", "InputObject", true, true, false, "RecurringIntegrations.Core.Model.DequeuedMessage" },
            { "Confirm-D365Ack", "PassThru", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Confirm-D365Ack", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Get-D365MessageStatus", "MessageId", All, true, true, true, "System.Guid[]" },
            { "Get-D365MessageStatus", "FileName", All, false, false, true, "System.String" },
            { "Get-D365MessageStatus", "Company", All, false, false, true, "System.String" },
            { "Get-D365MessageStatus", "Path", All, false, false, true, "System.String" },
            { "Get-D365MessageStatus", "ActivityId", All, false, false, true, "System.Guid?" },
            { "Get-D365MessageStatus", "EnqueuedAt", All, false, false, true, "System.DateTimeOffset?" },
            { "Get-D365MessageStatus", "Wait", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Get-D365MessageStatus", "TimeoutSeconds", All, false, false, false, "System.Int32" },
            { "Get-D365MessageStatus", "PollIntervalSeconds", All, false, false, false, "System.Int32" },
            { "Get-D365MessageStatus", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Get-D365ExecutionError", "MessageId", "ByMessageId", true, false, true, "System.Guid[]" },
            { "Get-D365ExecutionError", "ExecutionId", "ByExecutionId", true, false, true, "System.String[]" },
            { "Get-D365ExecutionError", "FileName", All, false, false, true, "System.String" },
            // Data packages and the package API
            { "Get-D365ExecutionError", "EntityName", "ByExecutionId", false, false, false, "System.String" },
            { "Get-D365ExecutionError", "OutputPath", "ByExecutionId", false, false, false, "System.String" },
            { "New-D365DataPackage", "Path", "Path", true, true, true, "System.String[]" },
            { "New-D365DataPackage", "EntityName", "Path", false, false, false, "System.String[]" },
            { "New-D365DataPackage", "Entity", "Entity", true, false, false, "System.Collections.Hashtable[]" },
            { "New-D365DataPackage", "SourceFormat", All, false, false, false, "System.String" },
            { "New-D365DataPackage", "OutputPath", All, true, false, false, "System.String" },
            { "New-D365DataPackage", "DefinitionGroupName", All, false, false, false, "System.String" },
            { "New-D365DataPackage", "Description", All, false, false, false, "System.String" },
            { "New-D365DataPackage", "TemplatePath", All, false, false, false, "System.String" },
            { "Import-D365DataPackage", "Path", All, true, true, true, "System.String" },
            { "Import-D365DataPackage", "DefinitionGroupId", All, true, false, false, "System.String" },
            { "Import-D365DataPackage", "LegalEntityId", All, true, false, false, "System.String" },
            { "Import-D365DataPackage", "ExecutionId", All, false, false, false, "System.String" },
            { "Import-D365DataPackage", "Overwrite", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Import-D365DataPackage", "Wait", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Import-D365DataPackage", "TimeoutSeconds", All, false, false, false, "System.Int32" },
            { "Import-D365DataPackage", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Export-D365DataPackage", "DefinitionGroupId", All, true, false, true, "System.String" },
            { "Export-D365DataPackage", "LegalEntityId", All, true, false, false, "System.String" },
            { "Export-D365DataPackage", "OutputPath", All, true, false, false, "System.String" },
            { "Export-D365DataPackage", "PackageName", All, false, false, false, "System.String" },
            { "Export-D365DataPackage", "TimeoutSeconds", All, false, false, false, "System.Int32" },
            { "Export-D365DataPackage", "Expand", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Export-D365DataPackage", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Get-D365ExecutionStatus", "ExecutionId", All, true, true, true, "System.String[]" },
            { "Get-D365ExecutionStatus", "Wait", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Get-D365ExecutionStatus", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Get-D365ExecutionError", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Get-D365ExecutionError", "ErrorFile", "ByExecutionId", false, false, false, "System.String" },
            { "Initialize-D365DataManagement", "Wait", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Initialize-D365DataManagement", "TimeoutSeconds", All, false, false, false, "System.Int32" },
            { "Initialize-D365DataManagement", "PassThru", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Initialize-D365DataManagement", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Get-D365DataEntity", "Name", All, false, false, false, "System.String[]" },
            { "Get-D365DataEntity", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Invoke-D365FolderImport", "Path", All, true, false, false, "System.String" },
            { "Invoke-D365FolderImport", "ActivityId", "Enqueue", true, false, false, "System.Guid" },
            { "Invoke-D365FolderImport", "DefinitionGroupId", "Package", true, false, false, "System.String" },
            { "Invoke-D365FolderImport", "LegalEntityId", "Package", true, false, false, "System.String" },
            { "Invoke-D365FolderImport", "SourceFormat", "Package", false, false, false, "System.String" },
            { "Invoke-D365FolderImport", "EntityName", All, false, false, false, "System.String" },
            { "Invoke-D365FolderImport", "Company", "Enqueue", false, false, false, "System.String" },
            { "Invoke-D365FolderImport", "CompanyFrom", "Enqueue", false, false, false, "System.String" },
            { "Invoke-D365FolderImport", "CompanyPattern", "Enqueue", false, false, false, "System.String" },
            { "Invoke-D365FolderImport", "OrderBy", All, false, false, false, "System.String" },
            { "Invoke-D365FolderImport", "Descending", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Invoke-D365FolderImport", "Filter", All, false, false, false, "System.String" },
            { "Invoke-D365FolderImport", "ThrottleLimit", All, false, false, false, "System.Int32" },
            { "Invoke-D365FolderImport", "TimeoutSeconds", All, false, false, false, "System.Int32" },
            { "Invoke-D365FolderImport", "PollIntervalSeconds", All, false, false, false, "System.Int32" },
            { "Invoke-D365FolderImport", "SettleSeconds", All, false, false, false, "System.Int32" },
            { "Invoke-D365FolderImport", "JournalPath", All, false, false, false, "System.String" },
            { "Invoke-D365FolderImport", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
            { "Invoke-D365FolderExport", "Path", All, true, false, false, "System.String" },
            { "Invoke-D365FolderExport", "ActivityId", All, true, false, false, "System.Guid" },
            { "Invoke-D365FolderExport", "ThrottleLimit", All, false, false, false, "System.Int32" },
            { "Invoke-D365FolderExport", "Expand", All, false, false, false, "System.Management.Automation.SwitchParameter" },
            { "Invoke-D365FolderExport", "JournalPath", All, false, false, false, "System.String" },
            { "Invoke-D365FolderExport", "Session", All, false, false, false, "RecurringIntegrations.Core.Connection.D365Session" },
        };

        [Fact]
        public void The_assembly_holds_exactly_the_cmdlets_of_the_design_as_sealed_VerbNounCommand_classes()
        {
            Assert.Equal(DesignCmdlets.OrderBy(n => n), BuiltModule.CmdletTypes.Select(BuiltModule.CmdletName).OrderBy(n => n));
            foreach (var type in BuiltModule.CmdletTypes)
            {
                Assert.True(type.IsSealed, type.Name + " is sealed");
                Assert.Equal(BuiltModule.CmdletName(type).Replace("-", string.Empty) + "Command", type.Name);
            }
        }

        [Theory]
        [MemberData(nameof(DesignParameters))]
        public void Every_parameter_of_the_design_exists_with_its_set_mandatory_flag_and_pipeline_binding(
            string cmdlet, string parameter, string set, bool mandatory, bool byValue, bool byPropertyName, string type)
        {
            var declaration = Assert.Single(BuiltModule.Parameters(BuiltModule.Cmdlet(cmdlet)), p => p.Name == parameter && p.ParameterSet == set);
            Assert.Equal(mandatory, declaration.Mandatory);
            Assert.Equal(byValue, declaration.ByValue);
            Assert.Equal(byPropertyName, declaration.ByPropertyName);
            Assert.Equal(type, TypeName(declaration.Type));
        }

        // A nullable's FullName names the assembly of its argument, which differs by runtime: written T? instead.
        private static string? TypeName(Type type) =>
            type.IsGenericType && type.GetGenericTypeDefinition().FullName == "System.Nullable`1" ? type.GetGenericArguments()[0].FullName + "?" : type.FullName;

        [Fact]
        public void Connect_has_the_ten_credential_parameter_sets_and_no_others()
        {
            var sets = BuiltModule.Parameters(BuiltModule.Cmdlet("Connect-D365")).Select(p => p.ParameterSet).Where(s => s != All).Distinct().OrderBy(s => s, StringComparer.Ordinal);
            Assert.Equal(new[] { "AccessToken", "Certificate", "CertificateThumbprint", "ClientAssertion", "ClientSecret", "Credential", "DeviceCode", "FederatedTokenFile", "ManagedIdentity", "TokenProvider" }, sets);
        }

        [Fact]
        public void Send_takes_Get_ChildItem_output_through_the_PSPath_alias_of_LiteralPath()
        {
            var literal = BuiltModule.Cmdlet("Send-D365Enqueue").GetProperty("LiteralPath")!;
            var alias = literal.GetCustomAttributesData().Single(a => a.AttributeType.FullName == "System.Management.Automation.AliasAttribute");
            var names = ((IEnumerable<CustomAttributeTypedArgument>)alias.ConstructorArguments[0].Value!).Select(a => (string)a.Value!);
            Assert.Contains("PSPath", names);
        }

        [Theory]
        [InlineData("Disconnect-D365", true)]
        [InlineData("Send-D365Enqueue", true)]
        [InlineData("Receive-D365Dequeue", true)]
        [InlineData("Confirm-D365Ack", true)]
        [InlineData("Invoke-D365FolderImport", true)]
        [InlineData("Invoke-D365FolderExport", true)]
        [InlineData("Connect-D365", false)]
        [InlineData("Get-D365MessageStatus", false)]
        [InlineData("New-D365DataPackage", true)]
        [InlineData("Import-D365DataPackage", true)]
        [InlineData("Export-D365DataPackage", true)]
        [InlineData("Get-D365ExecutionStatus", false)]
        [InlineData("Initialize-D365DataManagement", true)]
        [InlineData("Get-D365DataEntity", false)]
        public void State_changing_cmdlets_support_ShouldProcess(string cmdlet, bool expected)
        {
            var attribute = BuiltModule.Cmdlet(cmdlet).GetCustomAttributesData().Single(a => a.AttributeType.FullName == "System.Management.Automation.CmdletAttribute");
            Assert.Equal(expected, BuiltModule.Named<bool>(attribute, "SupportsShouldProcess"));
        }

        [Fact]
        public void Data_cmdlets_derive_from_D365Cmdlet_and_every_cmdlet_declares_its_output_type()
        {
            // Directly or through a base of its own kind (the package cmdlets share PackageCmdlet): what matters is -Session and its fallback.
            var d365Cmdlet = BuiltModule.Cmdlets.GetType("RecurringIntegrations.PowerShell.D365Cmdlet", throwOnError: true)!;
            foreach (var type in BuiltModule.CmdletTypes)
            {
                Assert.Contains(type.GetCustomAttributesData(), a => a.AttributeType.FullName == "System.Management.Automation.OutputTypeAttribute");
                var isData = !new[] { "Connect-D365", "Get-D365Session", "Disconnect-D365", "New-D365DataPackage" }.Contains(BuiltModule.CmdletName(type));
                Assert.True(isData == type.IsSubclassOf(d365Cmdlet), BuiltModule.CmdletName(type) + (isData ? " derives" : " does not derive") + " from D365Cmdlet");
            }
        }

        [Theory]
        [InlineData("RecurringIntegrations.Core.Model.EnqueuedMessage", "MessageId", "Get-D365MessageStatus", "MessageId")]
        [InlineData("RecurringIntegrations.Core.Model.MessageStatus", "MessageId", "Get-D365ExecutionError", "MessageId")]
        [InlineData("RecurringIntegrations.Core.Model.EnqueuedMessage", "MessageId", "Get-D365ExecutionError", "MessageId")]
        [InlineData("RecurringIntegrations.Core.Model.EnqueuedMessage", "FileName", "Get-D365MessageStatus", "FileName")]
        [InlineData("RecurringIntegrations.Core.Model.EnqueuedMessage", "Path", "Get-D365MessageStatus", "Path")]
        [InlineData("RecurringIntegrations.Core.Model.MessageStatus", "FileName", "Get-D365MessageStatus", "FileName")]
        [InlineData("RecurringIntegrations.Core.Model.MessageStatus", "FileName", "Get-D365ExecutionError", "FileName")]
        [InlineData("RecurringIntegrations.Core.Model.MessageStatus", "ActivityId", "Get-D365MessageStatus", "ActivityId")]
        [InlineData("RecurringIntegrations.Core.Model.MessageStatus", "EnqueuedAt", "Get-D365MessageStatus", "EnqueuedAt")]
        [InlineData("RecurringIntegrations.Core.Model.DequeuedMessage", "ActivityId", "Confirm-D365Ack", "ActivityId")]
        [InlineData("RecurringIntegrations.Core.Model.DequeuedMessage", "CorrelationId", "Confirm-D365Ack", "CorrelationId")]
        [InlineData("RecurringIntegrations.Core.Model.DequeuedMessage", "PopReceipt", "Confirm-D365Ack", "PopReceipt")]
        [InlineData("RecurringIntegrations.Core.Model.DequeuedMessage", "DownloadLocation", "Confirm-D365Ack", "DownloadLocation")]
        [InlineData("RecurringIntegrations.Core.Model.DequeuedMessage", "DequeueResponse", "Confirm-D365Ack", "DequeueResponse")]
        [InlineData("RecurringIntegrations.Core.Model.PackageExecution", "ExecutionId", "Get-D365ExecutionError", "ExecutionId")]
        [InlineData("RecurringIntegrations.Core.Model.PackageExecution", "ExecutionId", "Get-D365ExecutionStatus", "ExecutionId")]
        [InlineData("RecurringIntegrations.Core.Model.PackageExecution", "DefinitionGroupId", "Export-D365DataPackage", "DefinitionGroupId")]
        public void Each_property_a_downstream_cmdlet_binds_by_name_exists_upstream_with_a_compatible_type(
            string upstreamType, string property, string downstream, string parameter)
        {
            var source = BuiltModule.Core.GetType(upstreamType, throwOnError: true)!.GetProperty(property)!;
            var target = Assert.Single(BuiltModule.Parameters(BuiltModule.Cmdlet(downstream)), p => p.Name == parameter && p.ByPropertyName);
            var wanted = target.Type.IsArray ? target.Type.GetElementType()! : target.Type;
            Assert.Equal(TypeName(wanted), TypeName(source.PropertyType));
        }

        [Fact]
        public void The_manifest_exports_exactly_the_cmdlets_of_the_assembly()
        {
            foreach (var manifest in new[] { Path.Combine(BuiltModule.RepositoryRoot, "RecurringIntegrations.psd1"), Path.Combine(BuiltModule.Folder, "RecurringIntegrations.psd1") })
            {
                var text = File.ReadAllText(manifest);
                var block = Regex.Match(text, @"CmdletsToExport\s*=\s*@\(([^)]*)\)").Groups[1].Value;
                var exported = Regex.Matches(block, @"'([^']+)'").Select(m => m.Groups[1].Value).OrderBy(n => n);
                Assert.Equal(BuiltModule.CmdletTypes.Select(BuiltModule.CmdletName).OrderBy(n => n), exported);
                Assert.Contains("RecurringIntegrations.Format.ps1xml", text);
            }
        }

        [Fact]
        public void The_format_file_has_a_view_for_every_output_type_and_shows_no_secret()
        {
            var formats = new[] { XDocument.Load(Path.Combine(BuiltModule.Folder, "RecurringIntegrations.Format.ps1xml")) };
            var viewed = formats.SelectMany(f => f.Descendants("TypeName")).Select(e => e.Value).ToHashSet();
            foreach (var type in BuiltModule.CmdletTypes)
                foreach (var output in type.GetCustomAttributesData().Where(a => a.AttributeType.FullName == "System.Management.Automation.OutputTypeAttribute"))
                    foreach (var argument in (IEnumerable<CustomAttributeTypedArgument>)output.ConstructorArguments[0].Value!)
                    {
                        // A view selects the PSTypeName, RecurringIntegrations.<Class>; PowerShell's own types (the FileInfo of
                        // New-D365DataPackage) keep PowerShell's views.
                        var name = argument.Value is Type t ? (t.Assembly == BuiltModule.Core ? "RecurringIntegrations." + t.Name : t.FullName!) : (string)argument.Value!;
                        if (name.StartsWith("RecurringIntegrations.", StringComparison.Ordinal)) Assert.Contains(name, viewed);
                    }
            Assert.DoesNotContain(formats.SelectMany(f => f.Descendants("PropertyName")), e => Regex.IsMatch(e.Value, "Secret|Token$|Password|PopReceipt|DequeueResponse|Url$"));
        }

        [Fact]
        public void The_help_file_covers_every_cmdlet_and_parameter_with_at_least_two_examples()
        {
            XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
            XNamespace maml = "http://schemas.microsoft.com/maml/2004/10";
            var help = XDocument.Load(Path.Combine(BuiltModule.Folder, "en-US", "RecurringIntegrations.PowerShell.dll-Help.xml"));
            var commands = help.Root!.Elements(command + "command").ToDictionary(c => c.Element(command + "details")!.Element(command + "name")!.Value);
            Assert.Equal(DesignCmdlets.OrderBy(n => n), commands.Keys.OrderBy(n => n));
            foreach (var type in BuiltModule.CmdletTypes)
            {
                var entry = commands[BuiltModule.CmdletName(type)];
                Assert.False(string.IsNullOrWhiteSpace(entry.Element(command + "details")!.Element(maml + "description")!.Value));
                Assert.False(string.IsNullOrWhiteSpace(entry.Element(maml + "description")!.Value));
                Assert.True(entry.Descendants(command + "example").Count() >= 2, BuiltModule.CmdletName(type) + " has two examples");
                var documented = entry.Element(command + "parameters")!.Elements(command + "parameter")
                    .ToDictionary(p => p.Element(maml + "name")!.Value, p => p.Element(maml + "description")!.Value);
                foreach (var parameter in BuiltModule.Parameters(type).Select(p => p.Name).Distinct())
                {
                    Assert.True(documented.ContainsKey(parameter), $"{BuiltModule.CmdletName(type)} -{parameter} is in the help");
                    Assert.False(string.IsNullOrWhiteSpace(documented[parameter]));
                }
            }
        }

        [Fact]
        public void No_public_type_of_the_cmdlet_assembly_holds_a_field_of_a_Core_value_type()
        {
            // PowerShell reads the cmdlet assembly's types before OnImport sets up where Core loads from; laying out a field of a
            // Core enum or struct would load Core then and fail the import (FileNotFoundException for RecurringIntegrations.Core).
            const BindingFlags all = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
            var offending = BuiltModule.Cmdlets.GetTypes().Where(t => t.IsPublic)
                .SelectMany(t => t.GetFields(all).Select(f => (Type: t, Field: f)))
                .Where(x => IsCoreValueType(x.Field.FieldType))
                .Select(x => $"{x.Type.Name}.{x.Field.Name}: {x.Field.FieldType.FullName}");
            Assert.Empty(offending);

            static bool IsCoreValueType(Type type) =>
                type.IsValueType && (type.Assembly == BuiltModule.Core || (type.IsGenericType && type.GetGenericArguments().Any(IsCoreValueType)));
        }

        [Fact]
        public void The_cmdlet_assembly_reaches_Core_only_through_its_public_API()
        {
            var visibleTo = BuiltModule.Core.GetCustomAttributesData()
                .Where(a => a.AttributeType.FullName == "System.Runtime.CompilerServices.InternalsVisibleToAttribute")
                .Select(a => (string)a.ConstructorArguments[0].Value!);
            Assert.DoesNotContain(visibleTo, name => name.StartsWith("RecurringIntegrations.PowerShell", StringComparison.OrdinalIgnoreCase));

            using var stream = File.OpenRead(Path.Combine(BuiltModule.Folder, "RecurringIntegrations.PowerShell.dll"));
            using var pe = new PEReader(stream);
            var reader = pe.GetMetadataReader();
            var coreTypes = 0;
            foreach (var handle in reader.TypeReferences)
            {
                var reference = reader.GetTypeReference(handle);
                if (reference.ResolutionScope.Kind != HandleKind.AssemblyReference) continue;
                var assembly = reader.GetAssemblyReference((AssemblyReferenceHandle)reference.ResolutionScope);
                if (reader.GetString(assembly.Name) != "RecurringIntegrations.Core") continue;
                var fullName = reader.GetString(reference.Namespace) + "." + reader.GetString(reference.Name);
                var type = BuiltModule.Core.GetType(fullName, throwOnError: true)!;
                Assert.True(type.IsPublic, fullName + " is public");
                coreTypes++;
            }
            Assert.True(coreTypes > 5);
        }
    }
}
