using System;
using System.Collections.Generic;
using System.Management.Automation;
using SwarmAdmin.Connection;

namespace SwarmAdmin
{
    /// <summary>What secrets and configs have in common (docker secret ls / docker config ls, plus rotation and use).</summary>
    public abstract class SwarmStoredObject
    {
        public string Name { get; set; }
        public string Id { get; set; }
        /// <summary>The name rotations version: com.swarmadmin.*.base, else the name itself.</summary>
        public string BaseName { get; set; }
        /// <summary>The rotation version (com.swarmadmin.*.version); 0 when unversioned.</summary>
        public int Version { get; set; }
        public Dictionary<string, string> Labels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);
        public DateTime? CreatedAt { get; set; }
        public DateTime? UpdatedAt { get; set; }
        /// <summary>Names of the services whose spec references it.</summary>
        public string[] UsedBy { get; set; } = Array.Empty<string>();
        /// <summary>The stack it belongs to (label com.docker.stack.namespace), or null.</summary>
        public string Stack { get; set; }
        [Hidden] public SwarmContext Context { get; set; }
        public override string ToString() => Name;
    }

    /// <summary>A swarm secret (its data is never read back: the engine does not return it).</summary>
    public sealed class SwarmSecret : SwarmStoredObject { }

    /// <summary>A swarm config.</summary>
    public sealed class SwarmConfig : SwarmStoredObject { }
}
