using System;
using System.IO;
using System.Reflection;

namespace SwarmAdmin.Infrastructure
{
    /// <summary>
    /// Windows PowerShell 5.1 (.NET Framework) has no AssemblyLoadContext and no binding redirects for a module: the
    /// libraries beside SwarmAdmin.dll reference each other in versions that differ from the ones shipped (System.Text.Json
    /// wants System.Memory 4.0.1.2, the package ships 4.0.2.0, ...), and the loader would fail with FileLoadException.
    /// This resolver answers such requests with the copy in the module's bin folder, whatever version was asked for.
    /// SwarmAdmin.psm1 registers it on Windows PowerShell only (PowerShell 7 uses the private load context instead).
    /// </summary>
    public static class DesktopAssemblyResolver
    {
        private static readonly object Sync = new object();
        private static string _directory;

        /// <summary>Answer unresolved assembly requests from <paramref name="directory"/> (once per process).</summary>
        public static void Register(string directory)
        {
            if (string.IsNullOrEmpty(directory)) throw new ArgumentNullException(nameof(directory));
            lock (Sync)
            {
                if (_directory != null) return;
                _directory = directory;
                AppDomain.CurrentDomain.AssemblyResolve += OnResolve;
            }
        }

        private static Assembly OnResolve(object sender, ResolveEventArgs args) => Resolve(_directory, args.Name);

        /// <summary>The assembly named <paramref name="requestedName"/> (any version) from <paramref name="directory"/>, or null.</summary>
        internal static Assembly Resolve(string directory, string requestedName)
        {
            if (directory == null || string.IsNullOrEmpty(requestedName)) return null;
            AssemblyName wanted;
            try { wanted = new AssemblyName(requestedName); }
            catch (Exception) { return null; }
            if (string.IsNullOrEmpty(wanted.Name) || wanted.Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0) return null;

            // already loaded (e.g. by an earlier request under another version): the same copy again
            foreach (Assembly loaded in AppDomain.CurrentDomain.GetAssemblies())
            {
                string location;
                try { location = loaded.IsDynamic ? null : loaded.Location; }
                catch (NotSupportedException) { location = null; }
                if (location != null && IsTheOneWanted(wanted, loaded.GetName()) &&
                    string.Equals(Path.GetDirectoryName(location), directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar), StringComparison.OrdinalIgnoreCase))
                    return loaded;
            }

            string candidate = Path.Combine(directory, wanted.Name + ".dll");
            if (!File.Exists(candidate)) return null;
            try
            {
                // only when the file really is that assembly (same name and public key token)
                return IsTheOneWanted(wanted, AssemblyName.GetAssemblyName(candidate)) ? Assembly.LoadFrom(candidate) : null;
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>Same simple name, and the same publisher when the request names one (any version).</summary>
        private static bool IsTheOneWanted(AssemblyName wanted, AssemblyName found)
        {
            if (!string.Equals(found.Name, wanted.Name, StringComparison.OrdinalIgnoreCase)) return false;
            byte[] wantedToken = wanted.GetPublicKeyToken();
            return wantedToken == null || wantedToken.Length == 0 || TokensEqual(wantedToken, found.GetPublicKeyToken());
        }

        private static bool TokensEqual(byte[] a, byte[] b)
        {
            if (b == null || a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
            return true;
        }
    }
}
