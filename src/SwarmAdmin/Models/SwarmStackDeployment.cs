using System;
using System.Linq;
using System.Management.Automation;
using SwarmAdmin.Connection;

namespace SwarmAdmin
{
    /// <summary>What Deploy-SwarmStack did to one service.</summary>
    public enum SwarmDeployAction
    {
        /// <summary>The spec in the files equals the live spec: nothing was sent, nothing restarted.</summary>
        Unchanged,
        Created,
        Updated,
        /// <summary>Removed by -Prune (no longer in the files).</summary>
        Removed,
    }

    /// <summary>Where a service stands after Deploy-SwarmStack -Wait.</summary>
    public enum SwarmConvergence
    {
        /// <summary>-Wait was not used.</summary>
        NotWaited,
        Converged,
        Failed,
        TimedOut,
        /// <summary>-RollbackOnFailure put the previous spec back (or removed the service it had just created).</summary>
        RolledBack,
    }

    /// <summary>One service of a deployed stack.</summary>
    public sealed class SwarmServiceDeployment
    {
        public string Stack { get; set; }
        /// <summary>The service name in the swarm (stack_key); pipes into Get-SwarmService / Get-SwarmTask.</summary>
        public string Name { get; set; }
        /// <summary>The key in the compose file.</summary>
        public string Key { get; set; }
        public string Id { get; set; }
        public SwarmDeployAction Action { get; set; }
        /// <summary>What changed against the live spec (Updated) — "path: old -> new", secret-like env values masked.</summary>
        public string[] Changes { get; set; } = Array.Empty<string>();
        public string Image { get; set; }
        public SwarmConvergence State { get; set; }
        public ulong Running { get; set; }
        public ulong Desired { get; set; }
        /// <summary>Errors of failed tasks of the new spec (with -Wait), newest first.</summary>
        public string[] Errors { get; set; } = Array.Empty<string>();
        [Hidden] public SwarmContext Context { get; set; }
        public override string ToString() => Name;
    }

    /// <summary>The result of one Deploy-SwarmStack: per-service actions, the networks, secrets and configs it touched.</summary>
    public sealed class SwarmStackDeployment
    {
        public string Stack { get; set; }
        /// <summary>The stack name (so the object pipes into Get-SwarmStack, Get-SwarmService -Stack, Remove-SwarmStack).</summary>
        public string Name => Stack;
        public SwarmServiceDeployment[] Services { get; set; } = Array.Empty<SwarmServiceDeployment>();
        public string[] NetworksCreated { get; set; } = Array.Empty<string>();
        public string[] SecretsCreated { get; set; } = Array.Empty<string>();
        public string[] ConfigsCreated { get; set; } = Array.Empty<string>();
        /// <summary>Old content versions removed after the deploy (-KeepVersions).</summary>
        public string[] SecretsRemoved { get; set; } = Array.Empty<string>();
        public string[] ConfigsRemoved { get; set; } = Array.Empty<string>();
        public int Created => Services.Count(s => s.Action == SwarmDeployAction.Created);
        public int Updated => Services.Count(s => s.Action == SwarmDeployAction.Updated);
        public int Unchanged => Services.Count(s => s.Action == SwarmDeployAction.Unchanged);
        public int Removed => Services.Count(s => s.Action == SwarmDeployAction.Removed);
        /// <summary>Null without -Wait; else true when every service converged.</summary>
        public bool? Converged { get; set; }
        public bool RolledBack { get; set; }
        public TimeSpan Duration { get; set; }
        /// <summary>The compose files, in merge order.</summary>
        public string[] Files { get; set; } = Array.Empty<string>();
        [Hidden] public SwarmContext Context { get; set; }
        public override string ToString() => Stack;
    }
}
