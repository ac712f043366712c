using System;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;

namespace SwarmAdmin.Loader
{
    /// <summary>
    /// Loads SwarmAdmin.dll and every dependency that ships beside it (Docker.DotNet.Enhanced, SSH.NET,
    /// YamlDotNet, ...) into one private AssemblyLoadContext, so other versions of those libraries that a
    /// session has already loaded never clash with ours. Anything not shipped beside the module
    /// (System.*, System.Management.Automation) comes from the default context and stays shared.
    /// </summary>
    public sealed class LoadContext : AssemblyLoadContext
    {
        private static LoadContext _instance;
        private static readonly object Sync = new object();
        private readonly string _assemblyDir;

        private LoadContext(string assemblyDir) : base("SwarmAdmin", isCollectible: false)
        {
            _assemblyDir = assemblyDir;
        }

        protected override Assembly Load(AssemblyName assemblyName)
        {
            if (string.Equals(assemblyName.Name, typeof(LoadContext).Assembly.GetName().Name, StringComparison.Ordinal))
            {
                return typeof(LoadContext).Assembly;
            }

            // Framework assemblies (System.Memory, System.Text.Json ...) come from the runtime even though the
            // netstandard2.0 packages ship their own copies: two Span<T> or IAsyncDisposable types would break calls.
            if (IsFrameworkName(assemblyName.Name) && FrameworkAssemblies.Contains(assemblyName.Name))
            {
                return null;
            }

            string candidate = Path.Combine(_assemblyDir, assemblyName.Name + ".dll");
            if (File.Exists(candidate))
            {
                return LoadFromAssemblyPath(candidate);
            }

            return null;
        }

        private static bool IsFrameworkName(string name) =>
            name.StartsWith("System.", StringComparison.Ordinal) || name.StartsWith("Microsoft.Bcl.", StringComparison.Ordinal) ||
            name.StartsWith("Microsoft.Win32.", StringComparison.Ordinal) || name == "netstandard" || name == "mscorlib";

        private static readonly System.Collections.Generic.HashSet<string> FrameworkAssemblies = LoadFrameworkNames();

        private static System.Collections.Generic.HashSet<string> LoadFrameworkNames()
        {
            var set = new System.Collections.Generic.HashSet<string>(StringComparer.OrdinalIgnoreCase);
            string tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? string.Empty;
            foreach (string path in tpa.Split(Path.PathSeparator))
            {
                if (path.Length > 0) set.Add(Path.GetFileNameWithoutExtension(path));
            }
            return set;
        }

        /// <summary>Loads the module assembly into the private context (once per process) and returns it.</summary>
        public static Assembly Initialize(string moduleAssemblyName)
        {
            lock (Sync)
            {
                if (_instance == null)
                {
                    string dir = Path.GetDirectoryName(typeof(LoadContext).Assembly.Location);
                    _instance = new LoadContext(dir);
                }

                return _instance.LoadFromAssemblyName(new AssemblyName(moduleAssemblyName));
            }
        }
    }
}
