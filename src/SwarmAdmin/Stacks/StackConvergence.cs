using System;
using System.Collections.Generic;
using System.Linq;
using Docker.DotNet.Models;

namespace SwarmAdmin.Stacks
{
    /// <summary>When a service of a deployed stack counts as converged (Deploy-SwarmStack -Wait).</summary>
    internal static class StackConvergence
    {
        /// <summary>Converged?, running, desired for one service from its up-to-date tasks (not on Down nodes).</summary>
        internal static (bool Converged, ulong Running, ulong Desired) Evaluate(Docker.DotNet.Models.SwarmService svc, IList<TaskResponse> tasks)
        {
            var mode = svc.Spec?.Mode;
            if (mode?.ReplicatedJob != null)
            {
                ulong target = mode.ReplicatedJob.TotalCompletions ?? mode.ReplicatedJob.MaxConcurrent ?? 1;
                ulong done = (ulong)tasks.Count(t => t.Status?.State == TaskState.Complete);
                return (done >= target, done, target);
            }
            if (mode?.GlobalJob != null)
            {
                // one completion per eligible node: every up-to-date task complete
                ulong done = (ulong)tasks.Count(t => t.Status?.State == TaskState.Complete);
                ulong all = (ulong)tasks.Count(t => t.DesiredState == TaskState.Complete || t.Status?.State == TaskState.Complete);
                bool finished = tasks.Count > 0 && tasks.All(t => t.Status?.State == TaskState.Complete || t.DesiredState == TaskState.Shutdown || t.DesiredState == TaskState.Remove)
                                || (svc.ServiceStatus != null && svc.ServiceStatus.DesiredTasks == 0 && svc.ServiceStatus.CompletedTasks > 0);
                return (finished && done > 0, done, Math.Max(all, done));
            }
            var active = tasks.Where(t => t.DesiredState == TaskState.Running).ToList();
            ulong running = (ulong)active.Count(t => t.Status?.State == TaskState.Running);
            if (mode?.Global != null)
            {
                // every node that has a task of the new spec runs it (docker's rule); no eligible node = nothing to wait for
                ulong nodesWithTask = (ulong)active.Select(t => t.NodeID).Where(n => !string.IsNullOrEmpty(n)).Distinct().Count();
                ulong desired = nodesWithTask > 0 ? nodesWithTask : svc.ServiceStatus?.DesiredTasks ?? 0;
                return (running >= desired, running, desired);
            }
            ulong replicas = mode?.Replicated?.Replicas ?? 1;
            return (running >= replicas, running, replicas);
        }

    }
}
