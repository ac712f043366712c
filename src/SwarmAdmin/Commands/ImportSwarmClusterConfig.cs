using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Threading.Tasks;
using SwarmAdmin.Config;

namespace SwarmAdmin.Commands
{
    /// <summary>Import-SwarmClusterConfig: reads and validates a cluster file (YAML) into a SwarmClusterConfig.</summary>
    [Cmdlet(VerbsData.Import, "SwarmClusterConfig")]
    [OutputType(typeof(SwarmClusterConfig))]
    public sealed class ImportSwarmClusterConfigCommand : SwarmCmdlet
    {
        /// <summary>Cluster files to read; wildcards allowed.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "PSPath")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] Path { get; set; }

        protected override object CurrentTarget => Path;

        protected override Task ProcessRecordAsync()
        {
            foreach (string path in Path)
            {
                foreach (string file in Resolve(path))
                {
                    Import(file);
                }
            }
            return Task.CompletedTask;
        }

        private IEnumerable<string> Resolve(string path)
        {
            var files = new List<string>();
            try
            {
                files.AddRange(GetResolvedProviderPathFromPSPath(path, out ProviderInfo provider));
                if (provider.Name != "FileSystem")
                {
                    WriteError(NotFound(path, $"'{path}' is not a file system path (provider {provider.Name})."));
                    return Array.Empty<string>();
                }
            }
            catch (ItemNotFoundException)
            {
                WriteError(NotFound(path, $"The cluster file '{path}' does not exist."));
                return Array.Empty<string>();
            }
            catch (System.Management.Automation.DriveNotFoundException ex)
            {
                WriteError(NotFound(path, ex.Message));
                return Array.Empty<string>();
            }
            if (files.Count == 0)
            {
                WriteError(NotFound(path, $"No cluster file matches '{path}'."));
            }
            var existing = new List<string>();
            foreach (string f in files)
            {
                if (Directory.Exists(f)) WriteError(NotFound(f, $"'{f}' is a folder, not a cluster file."));
                else existing.Add(f);
            }
            return existing;
        }

        private static ErrorRecord NotFound(string path, string message)
        {
            var record = new ErrorRecord(new FileNotFoundException(message, path), ClusterConfigErrorId.NotFound, ErrorCategory.ObjectNotFound, path);
            record.ErrorDetails = new ErrorDetails(message) { RecommendedAction = "Check the path, or pass the file from Get-ChildItem." };
            return record;
        }

        private void Import(string file)
        {
            ClusterConfigResult result;
            try
            {
                result = ClusterConfigReader.ReadFile(file);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                var record = new ErrorRecord(ex, ClusterConfigErrorId.NotFound, ex is FileNotFoundException ? ErrorCategory.ObjectNotFound : ErrorCategory.ReadError, file);
                record.ErrorDetails = new ErrorDetails($"Cannot read the cluster file '{file}': {ex.Message}");
                WriteError(record);
                return;
            }

            foreach (SwarmClusterConfigException problem in result.Errors)
            {
                var record = new ErrorRecord(problem, problem.ErrorId, problem.Category, problem.Target);
                record.ErrorDetails = new ErrorDetails(problem.Message);
                if (problem.RecommendedAction != null) record.ErrorDetails.RecommendedAction = problem.RecommendedAction;
                WriteError(record);
            }
            foreach (SwarmConfigFinding finding in result.Findings)
            {
                WriteWarning($"{finding.Path}:{finding.Line}:{finding.Column}: {finding.Message} ({finding.Id}) {finding.Remedy}");
            }
            if (!result.IsValid)
            {
                Verbose($"{file}: {result.Errors.Count} error(s); no configuration returned.");
                return;
            }
            SwarmClusterConfig config = result.Config;
            Verbose($"{file}: cluster '{config.Name}', {config.Nodes.Length} node(s) ({config.Managers.Length} manager(s)), {config.Hosts.Length} Proxmox host(s), {config.Networks.Length} network(s), {config.Findings.Length} finding(s).");
            WriteObject(config);
        }
    }
}
