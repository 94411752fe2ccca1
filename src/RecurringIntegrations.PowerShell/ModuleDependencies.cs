using System.Reflection;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>One assembly the module ships under Dependencies/, with the identity the build recorded for it.</summary>
    internal sealed class ShippedAssembly(string path, AssemblyName identity)
    {
        public string Path { get; } = path;
        public AssemblyName Identity { get; } = identity;
        public string Name => Identity.Name ?? string.Empty;
    }

    /// <summary>
    /// The module's own dependency list, Dependencies/assemblies.txt, written by the build: which assemblies the module
    /// ships, where, and at which version. The loaders answer only for these, and a file of the list that is missing or
    /// does not load is reported by its path with the advice to reinstall.
    /// </summary>
    internal sealed class ModuleDependencies
    {
        public const string FolderName = "Dependencies";
        public const string DesktopFolderName = "Desktop";
        public const string ListFileName = "assemblies.txt";

        private readonly string _requesterOfCore;
        private readonly Dictionary<string, ShippedAssembly> _byName;
        private readonly HashSet<string> _paths;

        /// <param name="cmdletAssemblyPath">The cmdlet assembly, the one requester outside the list that may ask for Core.</param>
        /// <param name="shipped">What the list holds: the .NET Framework builds under Desktop/ and everything else.</param>
        /// <param name="desktop">True on Windows PowerShell: a Desktop/ build replaces the assembly of the same name.</param>
        public ModuleDependencies(string cmdletAssemblyPath, IEnumerable<ShippedAssembly> shipped, bool desktop)
        {
            _requesterOfCore = cmdletAssemblyPath;
            _byName = new Dictionary<string, ShippedAssembly>(StringComparer.OrdinalIgnoreCase);
            foreach (var assembly in shipped.OrderBy(a => IsDesktopBuild(a.Path)))
            {
                if (IsDesktopBuild(assembly.Path) && !desktop) continue;
                _byName[assembly.Name] = assembly;
            }
            _paths = new HashSet<string>(_byName.Values.Select(a => a.Path), StringComparer.OrdinalIgnoreCase);

            bool IsDesktopBuild(string path) =>
                Path.GetFileName(Path.GetDirectoryName(path)).Equals(DesktopFolderName, StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>The assemblies this edition of PowerShell loads, one per name.</summary>
        public IReadOnlyCollection<ShippedAssembly> Assemblies => _byName.Values;

        /// <summary>Reads the list beside the cmdlet assembly. A missing list, like a missing assembly, means a broken install.</summary>
        public static ModuleDependencies Read(string cmdletAssemblyPath, bool desktop)
        {
            var folder = Path.Combine(Path.GetDirectoryName(cmdletAssemblyPath) ?? string.Empty, FolderName);
            var listPath = Path.Combine(folder, ListFileName);
            if (!File.Exists(listPath)) throw ModuleFileException.For(listPath, null);
            var shipped = new List<ShippedAssembly>();
            foreach (var line in File.ReadAllLines(listPath))
            {
                if (line.Length == 0 || line[0] == '#') continue;
                var fields = line.Split('\t');
                if (fields.Length != 2) throw ModuleFileException.For(listPath, null);
                var relative = fields[0].Replace('/', Path.DirectorySeparatorChar);
                shipped.Add(new ShippedAssembly(Path.Combine(folder, relative), new AssemblyName(fields[1])));
            }
            return new ModuleDependencies(cmdletAssemblyPath, shipped, desktop);
        }

        /// <summary>Every file of the list is checked at import: a missing one would otherwise fail some later command obscurely.</summary>
        public void ThrowIfAnyMissing()
        {
            foreach (var assembly in _byName.Values)
                if (!File.Exists(assembly.Path)) throw ModuleFileException.For(assembly.Path, null);
        }

        public string PathOf(string name) =>
            _byName.TryGetValue(name, out var assembly) ? assembly.Path : throw new ArgumentException(name + " is not in the module's dependency list.", nameof(name));

        /// <summary>
        /// Windows PowerShell's AssemblyResolve handler, which never throws: every assembly request of the process passes
        /// through it, and an exception there ends the resolve for everyone, so other modules' handlers would never run.
        /// .NET Framework throws NotSupportedException for the Location of a dynamic requester (a PowerShell class, a
        /// Reflection.Emit assembly) and FileLoadException or ArgumentException for a malformed name; such a request, and
        /// one of ours whose file then fails to load, is left to others (our own caller then names the file).
        /// </summary>
        /// <param name="requestedName">The display name asked for, as the runtime gives it (ResolveEventArgs.Name).</param>
        /// <param name="requester">The assembly that asks, when the runtime knows it (ResolveEventArgs.RequestingAssembly).</param>
        /// <param name="load">Loads the file the decision names (Assembly.LoadFile, cached).</param>
        public Assembly? ResolveOnDesktop(string requestedName, Assembly? requester, Func<string, Assembly> load)
        {
            try
            {
                var path = ResolveForDesktop(new AssemblyName(requestedName), requester?.Location);
                return path is null ? null : load(path);
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>
        /// Windows PowerShell's AssemblyResolve decision. It answers only for a name in the list at a version the shipped
        /// file satisfies (the binding redirect .NET Framework lacks for modules), and only when the requester is the
        /// cmdlet assembly or a file of the list: another module asking for System.Text.Json or MSAL never gets ours, and
        /// neither does a request whose requester .NET Framework does not know.
        /// </summary>
        /// <returns>The file to load, or null to leave the request to others.</returns>
        public string? ResolveForDesktop(AssemblyName requested, string? requesterPath)
        {
            if (requesterPath is null) return null;
            if (!_paths.Contains(requesterPath) && !string.Equals(requesterPath, _requesterOfCore, StringComparison.OrdinalIgnoreCase)) return null;
            if (requested.Name is null || !_byName.TryGetValue(requested.Name, out var shipped)) return null;
            if (requested.Version != null && shipped.Identity.Version != null && requested.Version > shipped.Identity.Version) return null;
            var wantedToken = requested.GetPublicKeyToken();
            if (wantedToken != null && wantedToken.Length > 0 && Token(wantedToken) != Token(shipped.Identity.GetPublicKeyToken())) return null;
            return shipped.Path;
        }

        /// <summary>
        /// The file of the list behind a failure to load an assembly, wherever it sits in the exception's chain: the runtime
        /// reports a missing or damaged dependency by path or by assembly name, often wrapped.
        /// </summary>
        public string? BrokenFile(Exception exception)
        {
            for (var current = exception; current != null; current = current.InnerException)
            {
                if (current is AggregateException aggregate)
                    return aggregate.InnerExceptions.Select(BrokenFile).FirstOrDefault(path => path != null);
                var fileName = current switch
                {
                    FileNotFoundException missing => missing.FileName,
                    FileLoadException unloadable => unloadable.FileName,
                    BadImageFormatException damaged => damaged.FileName,
                    _ => null,
                };
                if (fileName is null) continue;
                if (_paths.Contains(fileName)) return fileName;
                var name = NameOf(fileName);
                if (name != null && _byName.TryGetValue(name, out var shipped)) return shipped.Path;
            }
            return null;
        }

        // Not SequenceEqual: on byte arrays the compiler picks the span overload, which would tie this assembly to System.Memory.
        private static string Token(byte[]? token) => token is null ? string.Empty : BitConverter.ToString(token);

        private static string? NameOf(string assemblyDisplayName)
        {
            try
            {
                return new AssemblyName(assemblyDisplayName).Name;
            }
            catch (Exception ex) when (ex is ArgumentException || ex is FileLoadException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// A file of the module's own that is missing, blocked or does not load: named, with the advice to reinstall, or to
    /// unblock the module when Windows still marks it as downloaded.
    /// </summary>
    internal sealed class ModuleFileException : IOException
    {
        // COR_E_NOTSUPPORTED: .NET Framework's answer to loading a file that carries the mark of the web (a Zone.Identifier
        // stream, set on every file of a zip downloaded with a browser and extracted with Explorer), which it treats as
        // coming from a network location.
        private const int NotSupportedHResult = unchecked((int)0x80131515);

        private ModuleFileException(string errorId, string text, string advice, string path, Exception? inner)
            : base(text + " " + advice, inner)
        {
            ErrorId = errorId;
            Text = text;
            Advice = advice;
            Path = path;
        }

        public string ErrorId { get; }
        /// <summary>What is wrong, without the advice.</summary>
        public string Text { get; }
        public string Advice { get; }
        public string Path { get; }

        /// <summary>The installed module's folder, which holds the cmdlet assembly.</summary>
        public static string ModuleFolder => System.IO.Path.GetDirectoryName(typeof(ModuleFileException).Assembly.Location) ?? string.Empty;

        /// <summary>
        /// Missing when the file is not there; blocked when loading it failed as a file from the internet; damaged when
        /// it is there and still failed (or is a list that does not parse).
        /// </summary>
        public static ModuleFileException For(string path, Exception? failure)
        {
            if (!File.Exists(path)) return new ModuleFileException(ModuleFileTexts.MissingId, string.Format(ModuleFileTexts.Missing, path), ModuleFileTexts.Advice, path, failure);
            if (IsBlocked(failure))
                return new ModuleFileException(ModuleFileTexts.BlockedId, string.Format(ModuleFileTexts.Blocked, path),
                    string.Format(ModuleFileTexts.BlockedAdvice, path, ModuleFolder), path, failure);
            return new ModuleFileException(ModuleFileTexts.DamagedId, string.Format(ModuleFileTexts.Damaged, path), ModuleFileTexts.Advice, path, failure);
        }

        private static bool IsBlocked(Exception? failure)
        {
            for (var current = failure; current != null; current = current.InnerException)
                if (current.HResult == NotSupportedHResult || current is NotSupportedException) return true;
            return false;
        }
    }
}
