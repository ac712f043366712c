using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Proxmox;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class ProxmoxUpidTests
    {
        [Fact]
        public void Parses_a_token_upid()
        {
            const string text = "UPID:pve01:0000ABCD:0125F4E2:66A1B2C3:qmclone:101:root@pam!tok:";
            Upid u = Upid.Parse(text);
            Assert.Equal("pve01", u.Node);
            Assert.Equal(0xABCD, u.Pid);
            Assert.Equal(0x0125F4E2, u.PStart);
            Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(0x66A1B2C3), u.StartTime);
            Assert.Equal(new DateTimeOffset(2024, 7, 25, 2, 4, 51, TimeSpan.Zero), u.StartTime);
            Assert.Equal("qmclone", u.Type);
            Assert.Equal("101", u.Id);
            Assert.Equal(101, u.VmId);
            Assert.Equal("root@pam", u.User);
            Assert.Equal("tok", u.TokenId);
            Assert.Equal("root@pam!tok", u.AuthId);
            Assert.Equal(text, u.ToString());
            Assert.Equal(u, Upid.Parse(u.ToString()));
        }

        [Fact]
        public void Parses_user_upid_with_empty_id_and_nine_digit_pstart()
        {
            Upid u = Upid.Parse("UPID:pve-node-2:003A0B1C:1125F4E2A:66A1B2C3:imgcopy::root@pam:");
            Assert.Equal("pve-node-2", u.Node);
            Assert.Equal(0x1125F4E2AL, u.PStart);
            Assert.Equal("", u.Id);
            Assert.Null(u.VmId);
            Assert.Equal("root@pam", u.User);
            Assert.Null(u.TokenId);
        }

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        [InlineData("UPID:pve01:0000ABCD:0125F4E2:66A1B2C3:qmclone:101:root@pam")] // no trailing colon
        [InlineData("UPID:pve01:ABCD:0125F4E2:66A1B2C3:qmclone:101:root@pam:")]     // pid not 8 hex digits
        [InlineData("UPID:-pve:0000ABCD:0125F4E2:66A1B2C3:qmclone:101:root@pam:")]  // bad node name
        [InlineData("UPID:pve01:0000ABCD:0125F4E2:66A1B2C3:qm clone:101:root@pam:")]
        [InlineData("upid:pve01:0000ABCD:0125F4E2:66A1B2C3:qmclone:101:root@pam:")]
        [InlineData("101")]
        public void Rejects_garbage(string text)
        {
            Assert.False(Upid.TryParse(text, out Upid u));
            Assert.Null(u);
            Assert.Throws<FormatException>(() => Upid.Parse(text));
        }
    }

    public class ProxmoxTasksTests
    {
        private const string CloneUpid = "UPID:pve1:0003A0B1:0125F4E2:66A1B2C3:qmclone:9000:swarm@pve!admin:";

        private static string Status(string status, string exit = null) =>
            "{\"data\":{\"upid\":\"" + CloneUpid + "\",\"node\":\"pve1\",\"pid\":237745,\"pstart\":19264738,\"starttime\":1721873091,\"type\":\"qmclone\",\"id\":\"9000\","
            + "\"user\":\"swarm@pve\",\"tokenid\":\"admin\",\"status\":\"" + status + "\"" + (exit == null ? "" : ",\"exitstatus\":\"" + exit + "\"") + "}}";

        private static string Log(IEnumerable<string> lines, int start = 0, int? total = null)
        {
            var list = lines.ToList();
            var sb = new StringBuilder("{\"data\":[");
            for (int i = 0; i < list.Count; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append("{\"n\":").Append(start + i + 1).Append(",\"t\":").Append(JsonSerializer.Serialize(list[i])).Append('}');
            }
            sb.Append("],\"total\":").Append(total ?? start + list.Count).Append('}');
            return sb.ToString();
        }

        private sealed class FakeTime
        {
            public TimeSpan Now;
            public readonly List<TimeSpan> Delays = new List<TimeSpan>();

            public ProxmoxTaskWaitOptions Options(TimeSpan? timeout = null) => new ProxmoxTaskWaitOptions
            {
                Timeout = timeout ?? TimeSpan.FromMinutes(30),
                Now = () => Now,
                Delay = (d, ct) => { Delays.Add(d); Now += d; return Task.CompletedTask; },
            };
        }

        [Fact]
        public async Task Ok_after_running_polls_with_backoff_on_the_upid_node()
        {
            int polls = 0;
            var handler = new FakeProxmoxHandler(r =>
            {
                polls++;
                return FakeProxmoxHandler.Json(polls < 7 ? Status("running") : Status("stopped", "OK"));
            });
            var time = new FakeTime();
            var progress = new List<ProxmoxTaskProgress>();
            ProxmoxTaskWaitOptions options = time.Options();
            options.Progress = progress.Add;
            using (var client = ProxmoxTestClients.Token(handler))
            {
                ProxmoxTaskResult result = await ProxmoxTasks.WaitAsync(client, Upid.Parse(CloneUpid), options);
                Assert.Equal("OK", result.ExitStatus);
                Assert.Equal(0, result.Warnings);
                Assert.False(result.WasSynchronous);
                Assert.Equal(Upid.Parse(CloneUpid), result.Upid);
                Assert.Equal(TimeSpan.FromMilliseconds(250 + 500 + 1000 + 2000 + 2000 + 2000), result.Duration);
            }
            Assert.Equal(new[] { 250, 500, 1000, 2000, 2000, 2000 }, time.Delays.Select(d => (int)d.TotalMilliseconds).ToArray());
            Assert.All(handler.List, r => Assert.Equal("/api2/json/nodes/pve1/tasks/" + CloneUpid + "/status", r.Uri.AbsolutePath));
            Assert.Equal(7, progress.Count);
            Assert.Equal("running", progress[0].Status);
            Assert.Equal("stopped", progress.Last().Status);
        }

        [Fact]
        public async Task Warnings_count_as_success_and_warn_lines_are_collected()
        {
            var handler = new FakeProxmoxHandler(r => r.Uri.AbsolutePath.EndsWith("/log")
                ? FakeProxmoxHandler.Json(Log(new[] { "create linked clone of drive scsi0 (local-lvm:base-9000-disk-0)", "WARN: no efidisk configured! Using temporary efivars disk.", "TASK WARNINGS: 1" }))
                : FakeProxmoxHandler.Json(Status("stopped", "WARNINGS: 1")));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                ProxmoxTaskResult result = await ProxmoxTasks.WaitAsync(client, CloneUpid);
                Assert.Equal("WARNINGS: 1", result.ExitStatus);
                Assert.Equal(1, result.Warnings);
                Assert.Equal(new[] { "WARN: no efidisk configured! Using temporary efivars disk." }, result.WarningLines);
            }
        }

        [Fact]
        public async Task Failure_fetches_the_log_and_throws_with_exit_status_and_last_lines()
        {
            const string exit = "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout";
            var handler = new FakeProxmoxHandler(r => r.Uri.AbsolutePath.EndsWith("/log")
                ? FakeProxmoxHandler.Json(Log(Enumerable.Range(1, 20).Select(i => "line " + i).Concat(new[] { "TASK ERROR: " + exit })))
                : FakeProxmoxHandler.Json(Status("stopped", exit)));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxTaskFailedException>(() => ProxmoxTasks.WaitAsync(client, CloneUpid));
                Assert.Equal(exit, ex.ExitStatus);
                Assert.Equal(CloneUpid, ex.Upid.ToString());
                Assert.Equal(21, ex.Log.Count);
                Assert.True(ex.IsLockError);
                Assert.Contains("qmclone 9000 on pve1 failed: " + exit, ex.Message);
                Assert.Contains(CloneUpid, ex.Message);
                Assert.Contains("TASK ERROR: " + exit, ex.Message);
                Assert.Contains("line 20", ex.Message);
                Assert.DoesNotContain("line 6" + Environment.NewLine, ex.Message); // only the tail (15 lines) in the message
            }
            RecordedRequest logRequest = handler.List.Single(r => r.Uri.AbsolutePath.EndsWith("/log"));
            Assert.Equal("/api2/json/nodes/pve1/tasks/" + CloneUpid + "/log", logRequest.Uri.AbsolutePath);
            Assert.Equal("start=0&limit=500", logRequest.Query);
        }

        [Fact]
        public async Task Failure_on_a_long_log_fetches_the_tail()
        {
            var handler = new FakeProxmoxHandler(r =>
            {
                if (!r.Uri.AbsolutePath.EndsWith("/log")) return FakeProxmoxHandler.Json(Status("stopped", "clone failed: disk full"));
                int start = int.Parse(r.Query.Split('&')[0].Split('=')[1]);
                return FakeProxmoxHandler.Json(Log(Enumerable.Range(start + 1, 500).Select(i => i == 800 ? "TASK ERROR: clone failed: disk full" : "transferred " + i), start, 800));
            });
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxTaskFailedException>(() => ProxmoxTasks.WaitAsync(client, CloneUpid));
                Assert.Equal("TASK ERROR: clone failed: disk full", ex.Log.Last());
                Assert.Equal(500, ex.Log.Count);
            }
            Assert.Equal(new[] { "start=0&limit=500", "start=300&limit=500" }, handler.List.Where(r => r.Uri.AbsolutePath.EndsWith("/log")).Select(r => r.Query).ToArray());
        }

        [Fact]
        public async Task Unreadable_log_still_throws_the_task_failure()
        {
            var handler = new FakeProxmoxHandler(r => r.Uri.AbsolutePath.EndsWith("/log")
                ? FakeProxmoxHandler.Json("{\"data\":null,\"message\":\"Permission check failed (/nodes/pve1, Sys.Audit)\\n\"}", 403, "Permission check failed (/nodes/pve1, Sys.Audit)")
                : FakeProxmoxHandler.Json(Status("stopped", "VM 101 already running")));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxTaskFailedException>(() => ProxmoxTasks.WaitAsync(client, CloneUpid));
                Assert.Equal("VM 101 already running", ex.ExitStatus);
                Assert.False(ex.IsLockError);
                Assert.Contains("could not be read", ex.Log.Single());
            }
        }

        [Fact]
        public async Task Null_result_is_an_immediate_success()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":null}"));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                JsonElement resize = await client.PutAsync("nodes/pve1/qemu/101/resize", new Dictionary<string, object> { ["disk"] = "scsi0", ["size"] = "+20G" });
                ProxmoxTaskResult result = await ProxmoxTasks.WaitAsync(client, resize);
                Assert.True(result.WasSynchronous);
                Assert.Equal("OK", result.ExitStatus);
                Assert.Null(result.Upid);
                Assert.True((await ProxmoxTasks.WaitAsync(client, (string)null)).WasSynchronous);
            }
            Assert.Single(handler.List); // no polling
        }

        [Fact]
        public async Task Upid_result_from_a_call_is_waited_for()
        {
            var handler = new FakeProxmoxHandler(r => r.Method == "PUT"
                ? FakeProxmoxHandler.Json("{\"data\":\"" + CloneUpid.Replace("qmclone", "resize").Replace(":9000:", ":101:") + "\"}")
                : FakeProxmoxHandler.Json(Status("stopped", "OK")));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                JsonElement resize = await client.PutAsync("nodes/pve1/qemu/101/resize", new Dictionary<string, object> { ["disk"] = "scsi0", ["size"] = "+20G" });
                ProxmoxTaskResult result = await ProxmoxTasks.WaitAsync(client, resize);
                Assert.Equal("resize", result.Upid.Type);
            }
            JsonElement notUpid = JsonDocument.Parse("\"hello\"").RootElement;
            Exception thrown = null;
            try { _ = ProxmoxTasks.WaitAsync(null, notUpid); } catch (Exception e) { thrown = e; }
            Assert.IsType<ProxmoxProtocolException>(thrown);
        }

        [Fact]
        public async Task Transient_poll_errors_are_tolerated_then_fatal()
        {
            int n = 0;
            var handler = new FakeProxmoxHandler(r =>
            {
                n++;
                if (n <= 2) return FakeProxmoxHandler.Empty(596, "Connection timed out");
                return FakeProxmoxHandler.Json(Status("stopped", "OK"));
            });
            using (var client = ProxmoxTestClients.Token(handler))
                Assert.Equal("OK", (await ProxmoxTasks.WaitAsync(client, Upid.Parse(CloneUpid), new FakeTime().Options())).ExitStatus);

            var down = new FakeProxmoxHandler(r => FakeProxmoxHandler.Empty(595, "No route to host"));
            using (var client = ProxmoxTestClients.Token(down))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => ProxmoxTasks.WaitAsync(client, Upid.Parse(CloneUpid), new FakeTime().Options()));
                Assert.True(ex.IsNodeUnreachable);
            }
            Assert.Equal(4, down.List.Count); // 3 tolerated + the fatal one

            var unknown = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"errors\":{\"upid\":\"no such task\"},\"data\":null}", 400, "Parameter verification failed."));
            using (var client = ProxmoxTestClients.Token(unknown))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => ProxmoxTasks.WaitAsync(client, Upid.Parse(CloneUpid), new FakeTime().Options()));
                Assert.Equal("no such task", ex.ParameterErrors["upid"]);
            }
            Assert.Single(unknown.List);
        }

        [Fact]
        public async Task Times_out_while_the_task_keeps_running()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json(Status("running")));
            var time = new FakeTime();
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxTaskTimeoutException>(() => ProxmoxTasks.WaitAsync(client, Upid.Parse(CloneUpid), time.Options(TimeSpan.FromSeconds(10))));
                Assert.Equal(TimeSpan.FromSeconds(10), ex.Waited);
                Assert.Contains("still running", ex.Message);
                Assert.Contains(CloneUpid, ex.Message);
                Assert.IsAssignableFrom<TimeoutException>(ex);
            }
            Assert.Equal(TimeSpan.FromSeconds(10), time.Now);
        }

        [Fact]
        public async Task Cancellation_stops_waiting()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json(Status("running")));
            using (var client = ProxmoxTestClients.Token(handler))
            using (var cts = new CancellationTokenSource(100))
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ProxmoxTasks.WaitAsync(client, CloneUpid, null, TimeSpan.FromMinutes(1), cts.Token));
        }

        [Fact]
        public async Task Follow_log_reports_new_lines()
        {
            int polls = 0;
            var all = new[] { "create full clone of drive scsi0 (local-lvm:vm-9000-disk-0)", "transferred 1.0 GiB of 2.0 GiB (50.00%)", "transferred 2.0 GiB of 2.0 GiB (100.00%)", "TASK OK" };
            var handler = new FakeProxmoxHandler(r =>
            {
                if (r.Uri.AbsolutePath.EndsWith("/log"))
                {
                    int start = int.Parse(r.Query.Split('&')[0].Split('=')[1]);
                    int available = Math.Min(all.Length, polls * 2 - 1);
                    if (available <= 0) return FakeProxmoxHandler.Json("{\"data\":[{\"n\":1,\"t\":\"no content\"}],\"total\":1}");
                    return FakeProxmoxHandler.Json(Log(all.Skip(start).Take(Math.Max(0, available - start)), start, available));
                }
                polls++;
                return FakeProxmoxHandler.Json(polls < 3 ? Status("running") : Status("stopped", "OK"));
            });
            var time = new FakeTime();
            var lines = new List<string>();
            ProxmoxTaskWaitOptions options = time.Options();
            options.FollowLog = true;
            options.Progress = p => lines.AddRange(p.NewLogLines);
            using (var client = ProxmoxTestClients.Token(handler))
                await ProxmoxTasks.WaitAsync(client, Upid.Parse(CloneUpid), options);
            Assert.Equal(all, lines);
        }

        [Theory]
        [InlineData("OK", true, 0)]
        [InlineData("WARNINGS: 3", true, 3)]
        [InlineData("WARNINGS: 12", true, 12)]
        [InlineData("unexpected status", false, 0)]
        [InlineData("interrupted by signal", false, 0)]
        [InlineData("VM quit/powerdown failed - got timeout", false, 0)]
        [InlineData("", false, 0)]
        [InlineData(null, false, 0)]
        public void Exit_status_classification(string exit, bool ok, int warnings)
        {
            Assert.Equal(ok, ProxmoxTasks.IsSuccess(exit, out int w));
            Assert.Equal(warnings, w);
        }
    }

    public class ProxmoxRetryTests
    {
        private static ProxmoxApiException Api(string message, int status = 500) =>
            ProxmoxApiException.FromResponse(status, message, "{\"data\":null,\"message\":\"" + message.Replace("'", "'") + "\\n\"}", "PUT", "nodes/pve1/qemu/101/config", null);

        private static ProxmoxRetryOptions Options(List<TimeSpan> delays, int attempts = 5) => new ProxmoxRetryOptions
        {
            Attempts = attempts,
            Delay = (d, ct) => { delays.Add(d); return Task.CompletedTask; },
        };

        [Theory]
        [InlineData("can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout", true)]
        [InlineData("clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout", true)]
        [InlineData("VM is locked (clone)", true)]
        [InlineData("VM is locked (backup)", true)]
        [InlineData("cfs-lock 'storage-ceph' error: got lock request timeout", true)]
        [InlineData("VM is locked (destroyed)", false)]
        [InlineData("VM 101 already running", false)]
        [InlineData("Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist", false)]
        [InlineData(null, false)]
        public void Lock_messages(string message, bool isLock)
        {
            Assert.Equal(isLock, ProxmoxRetry.IsLockMessage(message));
        }

        [Fact]
        public async Task Retries_lock_errors_with_exponential_backoff()
        {
            var delays = new List<TimeSpan>();
            int calls = 0;
            string result = await ProxmoxRetry.RetryOnLockAsync(() =>
            {
                calls++;
                if (calls == 1) throw Api("VM is locked (clone)");
                if (calls == 2) throw Api("can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout");
                if (calls == 3) throw new ProxmoxTaskFailedException(Upid.Parse("UPID:pve1:0003A0B1:0125F4E2:66A1B2C3:qmconfig:101:root@pam:"),
                    "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout", null);
                return Task.FromResult("done");
            }, Options(delays));
            Assert.Equal("done", result);
            Assert.Equal(4, calls);
            Assert.Equal(new[] { 1, 2, 4 }, delays.Select(d => (int)d.TotalSeconds).ToArray());
        }

        [Fact]
        public async Task Gives_up_after_the_configured_attempts_and_caps_the_delay()
        {
            var delays = new List<TimeSpan>();
            int calls = 0;
            var options = Options(delays, attempts: 7);
            options.MaxDelay = TimeSpan.FromSeconds(5);
            var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => ProxmoxRetry.RetryOnLockAsync<int>(() => { calls++; throw Api("VM is locked (migrate)"); }, options));
            Assert.Equal("VM is locked (migrate)", ex.Message);
            Assert.Equal(7, calls);
            Assert.Equal(new[] { 1, 2, 4, 5, 5, 5 }, delays.Select(d => (int)d.TotalSeconds).ToArray());

            calls = 0;
            await Assert.ThrowsAsync<ProxmoxApiException>(() => ProxmoxRetry.RetryOnLockAsync<int>(() => { calls++; throw Api("VM is locked (clone)"); }, new ProxmoxRetryOptions { Delay = (d, ct) => Task.CompletedTask }));
            Assert.Equal(5, calls); // default attempts
        }

        [Fact]
        public async Task Other_errors_are_not_retried()
        {
            var delays = new List<TimeSpan>();
            int calls = 0;
            await Assert.ThrowsAsync<ProxmoxApiException>(() => ProxmoxRetry.RetryOnLockAsync(() => { calls++; throw Api("VM is locked (destroyed)"); }, Options(delays)));
            await Assert.ThrowsAsync<ProxmoxApiException>(() => ProxmoxRetry.RetryOnLockAsync(() => { calls++; throw Api("Permission check failed (/vms/101, VM.Config.Disk)", 403); }, Options(delays)));
            await Assert.ThrowsAsync<InvalidOperationException>(() => ProxmoxRetry.RetryOnLockAsync(() => { calls++; throw new InvalidOperationException(); }, Options(delays)));
            Assert.Equal(3, calls);
            Assert.Empty(delays);
        }

        [Fact]
        public async Task Retry_wraps_a_real_client_call()
        {
            int n = 0;
            var handler = new FakeProxmoxHandler(r => ++n < 3
                ? FakeProxmoxHandler.Json("{\"data\":null,\"message\":\"VM is locked (clone)\\n\"}", 500, "VM is locked (clone)")
                : FakeProxmoxHandler.Json("{\"data\":null}"));
            var retries = new List<int>();
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var options = new ProxmoxRetryOptions { Delay = (d, ct) => Task.CompletedTask, OnRetry = (e, attempt, d) => retries.Add(attempt) };
                JsonElement r = await ProxmoxRetry.RetryOnLockAsync(() => client.PutAsync("nodes/pve1/qemu/101/config", new Dictionary<string, object> { ["cores"] = 2 }), options);
                Assert.Equal(JsonValueKind.Null, r.ValueKind);
            }
            Assert.Equal(new[] { 1, 2 }, retries);
            Assert.Equal(3, handler.List.Count);
        }
    }
}
