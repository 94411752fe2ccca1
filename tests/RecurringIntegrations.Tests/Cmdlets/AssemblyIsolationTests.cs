using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Xunit;

namespace RecurringIntegrations.Tests.Cmdlets
{
    /// <summary>
    /// The boundary that lets the module share a session with other modules' MSAL and System.Text.Json: the cmdlet
    /// assembly, which lands in PowerShell's shared load context, names nothing but PowerShell and Core, and Core's public
    /// API, which the cmdlets see across the load-context boundary, carries no third-party type.
    /// </summary>
    public sealed class AssemblyIsolationTests
    {
        private static readonly string[] Isolated = { "Microsoft.Identity.Client", "Microsoft.IdentityModel.Abstractions", "System.Text.Json" };

        [Fact]
        public void The_cmdlet_assembly_references_only_PowerShell_netstandard_and_Core()
        {
            using var stream = File.OpenRead(Path.Combine(BuiltModule.Folder, "RecurringIntegrations.PowerShell.dll"));
            using var pe = new PEReader(stream);
            var reader = pe.GetMetadataReader();
            var references = reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name)).ToList();

            Assert.Equal(new[] { "netstandard", "RecurringIntegrations.Core", "System.Management.Automation" }, references.OrderBy(n => n, StringComparer.OrdinalIgnoreCase));
        }

        [Fact]
        public void Cores_public_API_exposes_no_MSAL_or_System_Text_Json_type()
        {
            var exposed = new List<string>();
            foreach (var type in BuiltModule.Core.GetExportedTypes())
            {
                foreach (var (member, used) in PublicSignature(type))
                    if (UsedAssemblies(used).Any(a => Isolated.Contains(a)))
                        exposed.Add($"{type.FullName}.{member}: {used}");
            }

            Assert.Empty(exposed);
            Assert.Contains(BuiltModule.Core.GetReferencedAssemblies(), a => a.Name == "Microsoft.Identity.Client");
        }

        [Fact]
        public void The_built_module_keeps_only_its_manifest_cmdlets_runtime_check_formats_help_examples_and_licence_at_the_top()
        {
            var top = Directory.GetFileSystemEntries(BuiltModule.Folder).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal);

            Assert.Equal(new[] { "Dependencies", "Examples", "LICENSE", "RecurringIntegrations.Format.ps1xml", "RecurringIntegrations.PowerShell.dll", "RecurringIntegrations.Runtime.psm1", "RecurringIntegrations.psd1", "en-US" }, top);
            Assert.True(File.Exists(Path.Combine(BuiltModule.Dependencies, "RecurringIntegrations.Core.dll")));
            Assert.True(File.Exists(Path.Combine(BuiltModule.Dependencies, "RecurringIntegrations.Loader.dll")));
        }

        [Fact]
        public void The_dependency_list_names_every_file_under_Dependencies_with_its_real_identity()
        {
            var listed = File.ReadAllLines(Path.Combine(BuiltModule.Dependencies, "assemblies.txt"))
                .Where(line => !line.StartsWith("#", StringComparison.Ordinal) && !line.StartsWith("\uFEFF#", StringComparison.Ordinal))
                .Select(line => line.Split('\t'))
                .ToDictionary(fields => fields[0], fields => fields[1]);
            var files = Directory.GetFiles(BuiltModule.Dependencies, "*.dll", SearchOption.AllDirectories)
                .Select(path => Path.GetRelativePath(BuiltModule.Dependencies, path).Replace('\\', '/'));

            Assert.Equal(files.OrderBy(f => f, StringComparer.Ordinal), listed.Keys.OrderBy(f => f, StringComparer.Ordinal));
            foreach (var (file, identity) in listed)
                Assert.Equal(identity, AssemblyName.GetAssemblyName(Path.Combine(BuiltModule.Dependencies, file)).FullName);
        }

        [Theory]
        [InlineData("Microsoft.Identity.Client")]
        [InlineData("System.Text.Json")]
        public void Windows_PowerShell_gets_the_NET_Framework_build_of_a_package_that_has_one(string name)
        {
            Assert.Equal(".NETFramework", TargetFramework(Path.Combine(BuiltModule.Dependencies, "Desktop", name + ".dll")));
            Assert.Equal(".NETStandard", TargetFramework(Path.Combine(BuiltModule.Dependencies, name + ".dll")));
        }

        private static string TargetFramework(string path)
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            var reader = pe.GetMetadataReader();
            foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
            {
                var attribute = reader.GetCustomAttribute(handle);
                var constructor = reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor);
                var type = reader.GetTypeReference((TypeReferenceHandle)constructor.Parent);
                if (reader.GetString(type.Name) != "TargetFrameworkAttribute") continue;
                var blob = reader.GetBlobReader(attribute.Value);
                blob.ReadUInt16();
                return blob.ReadSerializedString()!.Split(',')[0];
            }
            throw new InvalidOperationException(path + " has no TargetFrameworkAttribute.");
        }

        /// <summary>Every type a caller outside Core can see in a type's declaration: base, interfaces, and public or protected members.</summary>
        private static IEnumerable<(string Member, Type Used)> PublicSignature(Type type)
        {
            if (type.BaseType != null) yield return ("(base)", type.BaseType);
            foreach (var contract in type.GetInterfaces()) yield return ("(interface)", contract);
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var field in type.GetFields(all).Where(f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly))
                yield return (field.Name, field.FieldType);
            foreach (var property in type.GetProperties(all))
                if (property.GetAccessors(nonPublic: true).Any(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly))
                    yield return (property.Name, property.PropertyType);
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)).Where(m => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly))
            {
                if (method is MethodInfo info) yield return (method.Name, info.ReturnType);
                foreach (var parameter in method.GetParameters()) yield return (method.Name + "(" + parameter.Name + ")", parameter.ParameterType);
            }
            foreach (var declared in type.GetEvents(all)) yield return (declared.Name, declared.EventHandlerType!);
        }

        private static IEnumerable<string> UsedAssemblies(Type type)
        {
            if (type.HasElementType) return UsedAssemblies(type.GetElementType()!);
            if (type.IsGenericParameter) return Enumerable.Empty<string>();
            var own = new[] { type.Assembly.GetName().Name! };
            return type.IsGenericType ? own.Concat(type.GetGenericArguments().SelectMany(UsedAssemblies)) : own;
        }
    }
}
