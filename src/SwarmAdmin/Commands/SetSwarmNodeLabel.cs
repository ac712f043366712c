using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Nodes;

namespace SwarmAdmin.Commands
{
    /// <summary>Set-SwarmNodeLabel: adds, removes or replaces node labels (docker node update --label-add/--label-rm).</summary>
    [Cmdlet(VerbsCommon.Set, "SwarmNodeLabel", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ByName)]
    [OutputType(typeof(SwarmNode))]
    public sealed class SetSwarmNodeLabelCommand : SwarmNodeCmdlet
    {
        /// <summary>Labels to add or overwrite: @{ key = 'value' }. Empty or $null values give an empty label.</summary>
        [Parameter]
        [ValidateNotNull]
        public Hashtable Add { get; set; }

        /// <summary>Label keys to remove (a key the node does not have is ignored).</summary>
        [Parameter]
        [ValidateNotNull]
        public string[] Remove { get; set; }

        /// <summary>The complete label set the node ends with (every other label is removed).</summary>
        [Parameter]
        [ValidateNotNull]
        public Hashtable Replace { get; set; }

        private Dictionary<string, string> _add, _replace;

        protected override Task BeginProcessingAsync()
        {
            if (Add == null && Remove == null && Replace == null)
            {
                throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                    "Say what to change: -Add @{key='value'}, -Remove key, or -Replace @{...}.", null));
            }
            if (Replace != null && (Add != null || Remove != null))
            {
                throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                    "-Replace sets the whole label set and cannot be combined with -Add or -Remove.", null));
            }
            _add = Add == null ? null : NodeLabels.FromHashtable(Add);
            _replace = Replace == null ? null : NodeLabels.FromHashtable(Replace);
            // Every key is checked before anything is sent to any node.
            var problems = new List<string>();
            foreach (var kv in (_add ?? new Dictionary<string, string>()).Concat(_replace ?? new Dictionary<string, string>()))
            {
                string p = NodeLabels.Validate(kv.Key) ?? NodeLabels.ValidateValue(kv.Key, kv.Value);
                if (p != null) problems.Add(p);
            }
            foreach (string k in Remove ?? Array.Empty<string>())
            {
                string p = NodeLabels.Validate(k);
                if (p != null) problems.Add(p);
            }
            if (problems.Count > 0)
            {
                throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.InvalidLabel, ErrorCategory.InvalidArgument,
                    "Nothing was changed: " + string.Join("; ", problems) + ".", Add ?? (object)Replace ?? Remove));
            }
            return Task.CompletedTask;
        }

        protected override async Task ProcessNodeAsync(SwarmContext ctx, NodeListResponse node)
        {
            bool asked = false, approved = false;
            var (updated, changed) = await UpdateNodeAsync(ctx, node, current =>
            {
                var before = current.Spec?.Labels ?? new Dictionary<string, string>();
                var after = NodeLabels.Apply(before, _add, Remove, _replace);
                if (NodeLabels.SameSet(before, after)) return null;
                if (!asked)
                {
                    asked = true;
                    approved = ShouldProcess(Describe(current), $"Set labels {NodeLabels.Format(before)} -> {NodeLabels.Format(after)}");
                }
                if (!approved) return null;
                var spec = CopySpec(current);
                spec.Labels = after;
                return spec;
            });

            if (asked && !approved) return; // -WhatIf or declined: nothing sent, nothing emitted
            Verbose(changed ? $"Labels of {Describe(updated)} are now {NodeLabels.Format(updated.Spec?.Labels)} (version {updated.Version?.Index})."
                            : $"Labels of {Describe(updated)} already match; nothing sent.");
            WriteObject(SwarmNode.From(updated, ctx));
        }
    }
}
