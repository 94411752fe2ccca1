using System;
using System.IO;
using System.Linq;
using System.Reflection;
using RecurringIntegrations.PowerShell;
using Xunit;

namespace RecurringIntegrations.Tests.Cmdlets
{
    /// <summary>
    /// The loading decisions of the cmdlet assembly: Windows PowerShell's resolve handler (there is no Windows PowerShell
    /// here, so its decision logic is tested alone) and the naming of a missing or damaged file under Dependencies/.
    /// </summary>
    public sealed class ModuleDependenciesTests
    {
        private static readonly string Module = Path.Combine(Path.GetTempPath(), "Modules", "RecurringIntegrations");
        private static readonly string Dependencies = Path.Combine(Module, "Dependencies");
        private static readonly string CmdletAssembly = Path.Combine(Module, "RecurringIntegrations.PowerShell.dll");
        private static readonly string Core = Path.Combine(Dependencies, "RecurringIntegrations.Core.dll");
        private static readonly string Msal = Path.Combine(Dependencies, "Microsoft.Identity.Client.dll");
        private static readonly string DesktopMsal = Path.Combine(Dependencies, "Desktop", "Microsoft.Identity.Client.dll");
        private static readonly string DesktopJson = Path.Combine(Dependencies, "Desktop", "System.Text.Json.dll");
        private const string MsalIdentity = "Microsoft.Identity.Client, Version=4.92.0.0, Culture=neutral, PublicKeyToken=0a613f4dd989e8ae";
        private const string JsonIdentity = "System.Text.Json, Version=6.0.0.10, Culture=neutral, PublicKeyToken=cc7b13ffcd2ddd51";

        private static ModuleDependencies List(bool desktop) => new ModuleDependencies(CmdletAssembly, new[]
        {
            new ShippedAssembly(Core, new AssemblyName("RecurringIntegrations.Core, Version=0.1.0.0, Culture=neutral, PublicKeyToken=null")),
            new ShippedAssembly(Msal, new AssemblyName(MsalIdentity)),
            new ShippedAssembly(Path.Combine(Dependencies, "System.Text.Json.dll"), new AssemblyName("System.Text.Json, Version=6.0.0.0, Culture=neutral, PublicKeyToken=cc7b13ffcd2ddd51")),
            new ShippedAssembly(DesktopMsal, new AssemblyName(MsalIdentity)),
            new ShippedAssembly(DesktopJson, new AssemblyName(JsonIdentity)),
        }, desktop);

        private static string? Resolve(string requested, string? requester) => List(desktop: true).ResolveForDesktop(new AssemblyName(requested), requester);

        [Fact]
        public void Windows_PowerShell_resolves_Core_for_the_cmdlet_assembly()
        {
            Assert.Equal(Core, Resolve("RecurringIntegrations.Core, Version=0.1.0.0, Culture=neutral, PublicKeyToken=null", CmdletAssembly));
        }

        [Fact]
        public void Windows_PowerShell_resolves_the_NET_Framework_build_for_Core_and_for_the_dependencies_themselves()
        {
            Assert.Equal(DesktopMsal, Resolve(MsalIdentity, Core));
            Assert.Equal(DesktopJson, Resolve("System.Text.Json, Version=6.0.0.0, Culture=neutral, PublicKeyToken=cc7b13ffcd2ddd51", DesktopMsal));
        }

        [Fact]
        public void Windows_PowerShell_redirects_an_older_version_to_the_shipped_one_but_never_a_newer()
        {
            Assert.Equal(DesktopMsal, Resolve("Microsoft.Identity.Client, Version=4.61.3.0, Culture=neutral, PublicKeyToken=0a613f4dd989e8ae", Core));
            Assert.Null(Resolve("Microsoft.Identity.Client, Version=4.93.0.0, Culture=neutral, PublicKeyToken=0a613f4dd989e8ae", Core));
        }

        [Fact]
        public void Windows_PowerShell_never_hands_our_copies_to_another_module()
        {
            var otherModule = Path.Combine(Path.GetTempPath(), "Modules", "Az.Accounts", "Microsoft.Azure.PowerShell.Authentication.dll");
            Assert.Null(Resolve(MsalIdentity, otherModule));
            Assert.Null(Resolve("System.Text.Json, Version=6.0.0.0, Culture=neutral, PublicKeyToken=cc7b13ffcd2ddd51", otherModule));
            // .NET Framework sometimes cannot tell who asks: then the request could be anyone's.
            Assert.Null(Resolve(MsalIdentity, null));
        }

        [Fact]
        public void Windows_PowerShell_leaves_names_outside_the_list_and_other_publishers_alone()
        {
            Assert.Null(Resolve("Newtonsoft.Json, Version=13.0.0.0, Culture=neutral, PublicKeyToken=30ad4fe6b2a6aeed", Core));
            Assert.Null(Resolve("System.Management.Automation, Version=3.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35", CmdletAssembly));
            Assert.Null(Resolve("Microsoft.Identity.Client, Version=4.92.0.0, Culture=neutral, PublicKeyToken=0123456789abcdef", Core));
        }

        [Fact]
        public void Windows_PowerShell_resolves_through_the_handler_for_a_requester_of_ours()
        {
            var loaded = typeof(ModuleDependenciesTests).Assembly;

            Assert.Same(loaded, List(desktop: true).ResolveOnDesktop(MsalIdentity, new StubAssembly(() => Core), path => path == DesktopMsal ? loaded : null!));
        }

        [Fact]
        public void Windows_PowerShell_handler_leaves_a_dynamic_requester_to_others_without_throwing()
        {
            // .NET Framework's answer for the Location of a PowerShell class or a Reflection.Emit assembly.
            var dynamicRequester = new StubAssembly(() => throw new NotSupportedException("The invoked member is not supported in a dynamic assembly."));

            Assert.Null(List(desktop: true).ResolveOnDesktop(MsalIdentity, dynamicRequester, path => throw new InvalidOperationException("nothing may load")));
        }

        [Theory]
        [InlineData("")]
        [InlineData("Microsoft.Identity.Client, Version=four")]
        [InlineData("Microsoft.Identity.Client, PublicKeyToken=xyz")]
        [InlineData(",,,")]
        public void Windows_PowerShell_handler_leaves_a_malformed_name_to_others_without_throwing(string name)
        {
            Assert.Null(List(desktop: true).ResolveOnDesktop(name, new StubAssembly(() => Core), path => throw new InvalidOperationException("nothing may load")));
        }

        [Fact]
        public void Windows_PowerShell_handler_does_not_throw_when_our_file_fails_to_load()
        {
            Assert.Null(List(desktop: true).ResolveOnDesktop(MsalIdentity, new StubAssembly(() => Core), path => throw new BadImageFormatException("Bad IL format.", path)));
        }

        [Fact]
        public void A_file_Windows_still_marks_as_downloaded_is_reported_as_blocked_with_Unblock_File_not_reinstall()
        {
            var file = Path.GetTempFileName();
            try
            {
                // What .NET Framework throws for a file with the mark of the web: FileLoadException 0x80131515 around a NotSupportedException.
                var blocked = new FileLoadException("Could not load file or assembly. Operation is not supported. (Exception from HRESULT: 0x80131515)", file,
                    new NotSupportedException("An attempt was made to load an assembly from a network location.")) { HResult = unchecked((int)0x80131515) };
                var byHResultOnly = new FileLoadException("Operation is not supported.", file) { HResult = unchecked((int)0x80131515) };

                foreach (var failure in new Exception[] { blocked, byHResultOnly, new TargetInvocationException(blocked) })
                {
                    var error = ModuleFileException.For(file, failure);
                    Assert.Equal("ModuleFileBlocked", error.ErrorId);
                    Assert.Contains(file, error.Message);
                    Assert.Contains("Unblock-File", error.Advice);
                    Assert.Contains(ModuleFileException.ModuleFolder, error.Advice);
                    Assert.DoesNotContain("Reinstall", error.Message);
                }
                Assert.Equal("ModuleFileDamaged", ModuleFileException.For(file, new BadImageFormatException("Bad IL format.", file)).ErrorId);
            }
            finally
            {
                File.Delete(file);
            }
        }

        [Fact]
        public void PowerShell_7_loads_the_netstandard_builds_and_Windows_PowerShell_the_NET_Framework_ones()
        {
            Assert.Equal(Msal, List(desktop: false).PathOf("Microsoft.Identity.Client"));
            Assert.Equal(DesktopMsal, List(desktop: true).PathOf("Microsoft.Identity.Client"));
            Assert.Equal(Core, List(desktop: true).PathOf("RecurringIntegrations.Core"));
            Assert.DoesNotContain(DesktopJson, List(desktop: false).Assemblies.Select(a => a.Path));
        }

        [Fact]
        public void A_dependency_that_fails_to_load_is_named_by_its_file_however_the_runtime_reports_it()
        {
            var list = List(desktop: false);
            var byName = new FileNotFoundException("Could not load file or assembly", MsalIdentity);
            var byPath = new BadImageFormatException("Bad IL format.", Core);

            Assert.Equal(Msal, list.BrokenFile(byName));
            Assert.Equal(Core, list.BrokenFile(byPath));
            Assert.Equal(Msal, list.BrokenFile(new TargetInvocationException(new AggregateException(new InvalidOperationException("first"), byName))));
        }

        [Fact]
        public void A_missing_file_of_the_users_own_is_not_taken_for_a_broken_module()
        {
            var list = List(desktop: false);

            Assert.Null(list.BrokenFile(new FileNotFoundException("Could not find file.", Path.Combine(Path.GetTempPath(), "in", "customers.xml"))));
            Assert.Null(list.BrokenFile(new FileNotFoundException("Could not load file or assembly", "Newtonsoft.Json, Version=13.0.0.0")));
        }

        [Fact]
        public void The_built_list_has_every_file_for_each_edition_and_a_missing_one_is_named_with_the_advice_to_reinstall()
        {
            var cmdlets = Path.Combine(BuiltModule.Folder, "RecurringIntegrations.PowerShell.dll");
            foreach (var desktop in new[] { false, true })
                ModuleDependencies.Read(cmdlets, desktop).ThrowIfAnyMissing();

            var copy = Path.Combine(Path.GetTempPath(), "ri-deps-" + Guid.NewGuid().ToString("N"));
            try
            {
                Directory.CreateDirectory(Path.Combine(copy, "Dependencies"));
                File.Copy(Path.Combine(BuiltModule.Dependencies, "assemblies.txt"), Path.Combine(copy, "Dependencies", "assemblies.txt"));
                var error = Assert.Throws<ModuleFileException>(() => ModuleDependencies.Read(Path.Combine(copy, "RecurringIntegrations.PowerShell.dll"), false).ThrowIfAnyMissing());
                Assert.Equal("ModuleFileMissing", error.ErrorId);
                Assert.StartsWith(Path.Combine(copy, "Dependencies"), error.Path);
                Assert.Contains(error.Path, error.Message);
                Assert.Contains("Reinstall the module", error.Message);
            }
            finally
            {
                Directory.Delete(copy, recursive: true);
            }
        }
    }

    /// <summary>An assembly whose Location is what the test says: a path, or the exception .NET Framework throws for a dynamic one.</summary>
    internal sealed class StubAssembly(Func<string> location) : Assembly
    {
        public override string Location => location();
        public override string FullName => "Stub, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null";
    }
}
