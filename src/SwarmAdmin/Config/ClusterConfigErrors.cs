using System;
using System.Management.Automation;

namespace SwarmAdmin.Config
{
    /// <summary>Stable error identifiers of Import-SwarmClusterConfig. Scripts may match on them; never rename one.</summary>
    public static class ClusterConfigErrorId
    {
        /// <summary>The cluster file does not exist (ObjectNotFound).</summary>
        public const string NotFound = "ClusterConfigNotFound";
        /// <summary>The file is not valid YAML (ParserError).</summary>
        public const string Syntax = "ClusterConfigSyntax";
        /// <summary>Valid YAML, but an unknown key, a wrong type or a broken rule (InvalidData).</summary>
        public const string Invalid = "ClusterConfigInvalid";
    }
}

namespace SwarmAdmin
{
    /// <summary>
    /// One problem in a cluster file, with its position. Message is "file:line:column: reason"; Import-SwarmClusterConfig
    /// writes one ErrorRecord per problem with this exception, its ErrorId, Category and Target.
    /// </summary>
    public sealed class SwarmClusterConfigException : Exception
    {
        public SwarmClusterConfigException(string errorId, ErrorCategory category, string path, int line, int column, string reason, string key, object target, Exception inner = null)
            : base($"{path}:{line}:{column}: {reason}", inner)
        {
            ErrorId = errorId; Category = category; Path = path; Line = line; Column = column; Reason = reason; Key = key; Target = target;
        }
        /// <summary>ClusterConfigSyntax, ClusterConfigInvalid or ClusterConfigNotFound.</summary>
        public string ErrorId { get; }
        public ErrorCategory Category { get; }
        /// <summary>The cluster file.</summary>
        public string Path { get; }
        /// <summary>1-based line and column of the offending text.</summary>
        public int Line { get; }
        public int Column { get; }
        /// <summary>The message without the position.</summary>
        public string Reason { get; }
        /// <summary>Where in the document, e.g. nodes[2].cores or proxmox.hosts[0].storages.</summary>
        public string Key { get; }
        /// <summary>The node name the problem is about, else the key.</summary>
        public object Target { get; }
        /// <summary>A fix, when one is obvious (the closest allowed key...).</summary>
        public string RecommendedAction { get; set; }
    }
}
