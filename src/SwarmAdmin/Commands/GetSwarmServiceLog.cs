using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Text;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Completion;

namespace SwarmAdmin
{
    /// <summary>One log line of a service's task (Get-SwarmServiceLog).</summary>
    public sealed class SwarmLogLine
    {
        public DateTime? Timestamp { get; set; }
        public string Service { get; set; }
        public string ServiceId { get; set; }
        public string TaskId { get; set; }
        public string NodeId { get; set; }
        public string Node { get; set; }
        /// <summary>stdout or stderr.</summary>
        public string Stream { get; set; }
        public string Message { get; set; }
        public override string ToString() => Message;

        /// <summary>
        /// Parses "2026-11-27T14:37:54.491728435Z com.docker.swarm.node.id=..,com.docker.swarm.service.id=..,com.docker.swarm.task.id=.. text"
        /// (timestamps=1, details=1), as the engine sends it.
        /// </summary>
        internal static SwarmLogLine Parse(string line, string stream)
        {
            var result = new SwarmLogLine { Stream = stream, Message = line };
            int space = line.IndexOf(' ');
            if (space > 0 && DateTime.TryParse(line.Substring(0, space), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime ts))
            {
                result.Timestamp = ts;
                line = line.Substring(space + 1);
                result.Message = line;
            }
            if (line.StartsWith("com.docker.swarm.", StringComparison.Ordinal))
            {
                space = line.IndexOf(' ');
                string details = space < 0 ? line : line.Substring(0, space);
                result.Message = space < 0 ? string.Empty : line.Substring(space + 1);
                foreach (string pair in details.Split(','))
                {
                    int eq = pair.IndexOf('=');
                    if (eq <= 0) continue;
                    string key = pair.Substring(0, eq), value = pair.Substring(eq + 1);
                    if (key == "com.docker.swarm.node.id") result.NodeId = value;
                    else if (key == "com.docker.swarm.service.id") result.ServiceId = value;
                    else if (key == "com.docker.swarm.task.id") result.TaskId = value;
                }
            }
            return result;
        }
    }
}

namespace SwarmAdmin.Commands
{
    /// <summary>Get-SwarmServiceLog: the logs of a service's tasks (docker service logs), as objects.</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmServiceLog")]
    [OutputType(typeof(SwarmLogLine))]
    public sealed class GetSwarmServiceLogCommand : SwarmContextCmdlet
    {
        /// <summary>Service names or IDs (from the pipeline too: services, or tasks by their ServiceName).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("ServiceName")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmServiceNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>Only the last N lines of each task.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int Tail { get; set; } = -1;

        /// <summary>Only lines written after this time.</summary>
        [Parameter]
        public DateTime Since { get; set; }

        /// <summary>Keep streaming new lines until Ctrl+C.</summary>
        [Parameter]
        public SwitchParameter Follow { get; set; }

        /// <summary>Which output streams: stdout, stderr or both.</summary>
        [Parameter]
        [ValidateSet("stdout", "stderr")]
        public string[] Stream { get; set; } = { "stdout", "stderr" };

        private Dictionary<string, string> _nodeNames;

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            if (_nodeNames == null)
            {
                _nodeNames = (await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t))).ToDictionary(n => n.ID, n => n.Description?.Hostname, StringComparer.Ordinal);
            }
            foreach (string name in Name)
            {
                try { await ReadAsync(ctx, name); }
                catch (DockerApiException ex) when ((int)ex.StatusCode == 404)
                {
                    WriteError(SwarmErrors.Record(SwarmErrorId.ServiceNotFound, ErrorCategory.ObjectNotFound, $"No service '{name}' exists in the swarm. Run Get-SwarmService to list them.", name, ex));
                }
            }
        }

        private async Task ReadAsync(SwarmContext ctx, string name)
        {
            var parameters = new ServiceLogsParameters
            {
                ShowStdout = Stream.Contains("stdout"),
                ShowStderr = Stream.Contains("stderr"),
                Timestamps = true,
                Details = true,
                Follow = Follow.IsPresent,
                Tail = Tail >= 0 ? Tail.ToString(CultureInfo.InvariantCulture) : "all",
                Since = MyInvocation.BoundParameters.ContainsKey(nameof(Since))
                    ? ((long)(Since.ToUniversalTime() - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds).ToString(CultureInfo.InvariantCulture) : null,
            };
            var service = await CallAsync(ctx, $"GET /services/{name}", (c, t) => c.Swarm.InspectServiceAsync(name, t));
            string serviceName = service.Spec?.Name ?? name;
            bool tty = service.Spec?.TaskTemplate?.ContainerSpec?.TTY == true;
            Verbose($"Reading the logs of {serviceName}{(Follow ? " (following; Ctrl+C stops)" : "")}.");
            // The stream call is not time-boxed (a followed log has no end); Ctrl+C cancels it.
            using (MultiplexedStream logs = await ctx.InvokeAsync($"GET /services/{name}/logs", (c, t) => c.Swarm.GetServiceLogsAsync(service.ID, tty, parameters, t), this, StopToken, true, Follow ? System.Threading.Timeout.InfiniteTimeSpan : (TimeSpan?)null))
            {
                var buffer = new byte[16 * 1024];
                var pending = new Dictionary<MultiplexedStream.TargetStream, StringBuilder>();
                var utf8 = new UTF8Encoding(false);
                while (true)
                {
                    var read = await logs.ReadOutputAsync(buffer, 0, buffer.Length, StopToken);
                    if (read.EOF) break;
                    if (!pending.TryGetValue(read.Target, out StringBuilder sb)) pending[read.Target] = sb = new StringBuilder();
                    sb.Append(utf8.GetString(buffer, 0, read.Count));
                    string text = sb.ToString();
                    int nl;
                    while ((nl = text.IndexOf('\n')) >= 0)
                    {
                        Emit(text.Substring(0, nl).TrimEnd('\r'), read.Target, serviceName);
                        text = text.Substring(nl + 1);
                    }
                    sb.Clear().Append(text);
                }
                foreach (var kv in pending.Where(p => p.Value.Length > 0)) Emit(kv.Value.ToString(), kv.Key, serviceName);
            }
        }

        private void Emit(string line, MultiplexedStream.TargetStream target, string serviceName)
        {
            var entry = SwarmLogLine.Parse(line, target == MultiplexedStream.TargetStream.StandardError ? "stderr" : "stdout");
            entry.Service = serviceName;
            if (entry.NodeId != null && _nodeNames.TryGetValue(entry.NodeId, out string host)) entry.Node = host;
            WriteObject(entry);
        }
    }
}
