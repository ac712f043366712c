using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;

namespace SwarmAdmin
{
    /// <summary>A stack: the services (and networks, secrets, configs) that carry one com.docker.stack.namespace label.</summary>
    public sealed class SwarmStack
    {
        public string Name { get; set; }
        /// <summary>The same as Name: lets a stack piped into Get-SwarmService or Get-SwarmTask bind to their -Stack.</summary>
        public string Stack => Name;
        public int Services { get; set; }
        public string[] ServiceNames { get; set; } = Array.Empty<string>();
        [Hidden] public SwarmContext Context { get; set; }
        public override string ToString() => Name;
    }

    /// <summary>One swarm service, as Get-SwarmService returns it (docker service ls).</summary>
    public sealed class SwarmService
    {
        public string Id { get; set; }
        public string Name { get; set; }
        /// <summary>The stack it belongs to (label com.docker.stack.namespace), or null.</summary>
        public string Stack { get; set; }
        /// <summary>replicated, global, replicated-job or global-job.</summary>
        public string Mode { get; set; }
        public ulong? DesiredReplicas { get; set; }
        public ulong Running { get; set; }
        public ulong Desired { get; set; }
        public string Image { get; set; }
        public string[] Ports { get; set; } = Array.Empty<string>();
        public string[] Constraints { get; set; } = Array.Empty<string>();
        public Dictionary<string, string> Labels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);
        public string UpdateState { get; set; }
        public ulong Version { get; set; }
        public DateTime? CreatedAt { get; set; }
        public DateTime? UpdatedAt { get; set; }
        [Hidden] public SwarmContext Context { get; set; }
        public override string ToString() => Name;

        internal const string StackLabel = "com.docker.stack.namespace";

        internal static SwarmService From(Docker.DotNet.Models.SwarmService s, SwarmContext ctx)
        {
            var mode = s.Spec?.Mode;
            string m = mode?.Global != null ? "global" : mode?.ReplicatedJob != null ? "replicated-job" : mode?.GlobalJob != null ? "global-job" : "replicated";
            var labels = s.Spec?.Labels ?? new Dictionary<string, string>();
            return new SwarmService
            {
                Id = s.ID,
                Name = s.Spec?.Name,
                Stack = labels.TryGetValue(StackLabel, out string st) ? st : null,
                Mode = m,
                DesiredReplicas = mode?.Replicated?.Replicas,
                Running = s.ServiceStatus?.RunningTasks ?? 0,
                Desired = s.ServiceStatus?.DesiredTasks ?? 0,
                Image = ShortImage(s.Spec?.TaskTemplate?.ContainerSpec?.Image),
                Ports = (s.Endpoint?.Ports ?? s.Spec?.EndpointSpec?.Ports ?? new List<PortConfig>())
                    .Select(p => $"*:{p.PublishedPort}->{p.TargetPort}/{p.Protocol ?? "tcp"}{(p.PublishMode == "host" ? " (host)" : "")}").ToArray(),
                Constraints = s.Spec?.TaskTemplate?.Placement?.Constraints?.ToArray() ?? Array.Empty<string>(),
                Labels = new Dictionary<string, string>(labels, StringComparer.Ordinal),
                UpdateState = s.UpdateStatus?.State,
                Version = s.Version?.Index ?? 0,
                CreatedAt = s.CreatedAt,
                UpdatedAt = s.UpdatedAt,
                Context = ctx,
            };
        }

        /// <summary>"busybox:1@sha256:..." → "busybox:1", as docker service ls shows it.</summary>
        internal static string ShortImage(string image)
        {
            if (string.IsNullOrEmpty(image)) return image;
            int at = image.IndexOf('@');
            return at > 0 ? image.Substring(0, at) : image;
        }
    }

    /// <summary>One task of a service (docker service ps / docker stack ps).</summary>
    public sealed class SwarmTask
    {
        public string Id { get; set; }
        /// <summary>service.slot for replicated services, service.nodeid for global ones (as docker shows it).</summary>
        public string Name { get; set; }
        public string ServiceId { get; set; }
        public string ServiceName { get; set; }
        public string Stack { get; set; }
        public long? Slot { get; set; }
        public string NodeId { get; set; }
        public string Node { get; set; }
        public string DesiredState { get; set; }
        public string CurrentState { get; set; }
        public DateTime? StateSince { get; set; }
        public string Error { get; set; }
        public string Message { get; set; }
        public string Image { get; set; }
        public string ContainerId { get; set; }
        public long? ExitCode { get; set; }
        [Hidden] public SwarmContext Context { get; set; }
        public override string ToString() => Name;

        internal static SwarmTask From(TaskResponse t, IDictionary<string, Docker.DotNet.Models.SwarmService> services, IDictionary<string, string> nodeNames, SwarmContext ctx)
        {
            services.TryGetValue(t.ServiceID ?? "", out var svc);
            string serviceName = svc?.Spec?.Name ?? t.ServiceID;
            string node = t.NodeID != null && nodeNames.TryGetValue(t.NodeID, out string h) ? h : t.NodeID;
            var labels = svc?.Spec?.Labels ?? new Dictionary<string, string>();
            return new SwarmTask
            {
                Id = t.ID,
                Name = t.Slot.HasValue && t.Slot.Value > 0 ? $"{serviceName}.{t.Slot}" : $"{serviceName}.{t.NodeID}",
                ServiceId = t.ServiceID,
                ServiceName = serviceName,
                Stack = labels.TryGetValue(SwarmService.StackLabel, out string st) ? st : null,
                Slot = t.Slot,
                NodeId = t.NodeID,
                Node = node,
                DesiredState = EnumText(t.DesiredState?.ToString()),
                CurrentState = EnumText(t.Status?.State?.ToString()),
                StateSince = t.Status?.Timestamp,
                Error = string.IsNullOrEmpty(t.Status?.Err) ? null : t.Status.Err,
                Message = t.Status?.Message,
                Image = SwarmService.ShortImage(t.Spec?.ContainerSpec?.Image),
                ContainerId = t.Status?.ContainerStatus?.ContainerID,
                ExitCode = t.Status?.ContainerStatus?.ExitCode,
                Context = ctx,
            };
        }

        private static string EnumText(string s) => string.IsNullOrEmpty(s) ? s : s.ToLowerInvariant();
    }
}
