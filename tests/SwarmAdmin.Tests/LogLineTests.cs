using System;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class LogLineTests
    {
        [Fact]
        public void Parses_timestamp_details_and_message_as_the_engine_sends_them()
        {
            // captured from a 26.1 engine: GET /services/x/logs?timestamps=1&details=1
            var l = SwarmLogLine.Parse("2026-11-27T14:37:54.491728435Z com.docker.swarm.node.id=sdstx53zlyxd55gvzwh38j9ky,com.docker.swarm.service.id=3crdqus07br0basunnob10340,com.docker.swarm.task.id=yk3ckz74vtknfxcpwjijjmbuc err 5", "stderr");
            Assert.Equal(new DateTime(2026, 11, 27, 14, 37, 54, DateTimeKind.Utc).AddTicks(4917284), l.Timestamp);
            Assert.Equal("sdstx53zlyxd55gvzwh38j9ky", l.NodeId);
            Assert.Equal("3crdqus07br0basunnob10340", l.ServiceId);
            Assert.Equal("yk3ckz74vtknfxcpwjijjmbuc", l.TaskId);
            Assert.Equal("err 5", l.Message);
            Assert.Equal("stderr", l.Stream);
        }

        [Theory]
        [InlineData("plain text, no timestamp", "plain text, no timestamp")]
        [InlineData("2026-11-27T14:37:54Z only a timestamp", "only a timestamp")]
        [InlineData("2026-11-27T14:37:54Z com.docker.swarm.task.id=t1 ", "")]
        [InlineData("2026-11-27T14:37:54Z   spaces kept", "  spaces kept")]
        public void Keeps_the_message_intact(string line, string message)
        {
            Assert.Equal(message, SwarmLogLine.Parse(line, "stdout").Message);
        }
    }
}
