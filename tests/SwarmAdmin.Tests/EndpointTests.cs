using System;
using System.Linq;
using SwarmAdmin.Connection;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class EndpointTests
    {
        [Theory]
        [InlineData("ssh://root@10.0.0.1", "ssh://root@10.0.0.1:22", "root", "10.0.0.1", 22)]
        [InlineData("ssh://root@10.0.0.1:22", "ssh://root@10.0.0.1:22", "root", "10.0.0.1", 22)]
        [InlineData("ssh://root@[::1]:2222", "ssh://root@[::1]:2222", "root", "::1", 2222)]
        [InlineData("ssh://[::1]", "ssh://deploy@[::1]:22", "deploy", "::1", 22)]
        [InlineData("ssh://[fe80::1%eth0]:22", "ssh://deploy@[fe80::1%eth0]:22", "deploy", "fe80::1%eth0", 22)]
        [InlineData("ssh://manager-1", "ssh://deploy@manager-1:22", "deploy", "manager-1", 22)]
        [InlineData("SSH://Admin@Node1.Example.COM:2222", "ssh://Admin@node1.example.com:2222", "Admin", "node1.example.com", 2222)]
        [InlineData("root@node1:2200", "ssh://root@node1:2200", "root", "node1", 2200)]
        [InlineData("root@node1", "ssh://root@node1:22", "root", "node1", 22)]
        [InlineData("node1", "ssh://deploy@node1:22", "deploy", "node1", 22)]
        [InlineData("node1:65535", "ssh://deploy@node1:65535", "deploy", "node1", 65535)]
        [InlineData("ops.user_1@node_1.local:1", "ssh://ops.user_1@node_1.local:1", "ops.user_1", "node_1.local", 1)]
        [InlineData("root@[2001:db8::10]:2222", "ssh://root@[2001:db8::10]:2222", "root", "2001:db8::10", 2222)]
        [InlineData("  ssh://root@node1  ", "ssh://root@node1:22", "root", "node1", 22)]
        public void Parse_Ssh(string input, string canonical, string user, string host, int port)
        {
            var ep = SwarmEndpoint.Parse(input, "deploy");
            Assert.Equal(EndpointScheme.Ssh, ep.Scheme);
            Assert.Equal(canonical, ep.ToString());
            Assert.Equal(user, ep.User);
            Assert.Equal(host, ep.Host);
            Assert.Equal(port, ep.Port);
            Assert.Null(ep.SocketPath);
            Assert.Equal(input, ep.Original);
        }

        [Fact]
        public void Parse_Ssh_DefaultUserFallsBackToCurrentUser()
        {
            Assert.Equal(Environment.UserName, SwarmEndpoint.Parse("ssh://node1").User);
            Assert.Equal(Environment.UserName, SwarmEndpoint.Parse("node1", "").User);
            Assert.Equal("explicit", SwarmEndpoint.Parse("explicit@node1", "deploy").User);
        }

        [Theory]
        [InlineData("unix:///var/run/docker.sock", "/var/run/docker.sock")]
        [InlineData("UNIX:///run/user/1000/docker.sock", "/run/user/1000/docker.sock")]
        public void Parse_Unix(string input, string path)
        {
            var ep = SwarmEndpoint.Parse(input);
            Assert.Equal(EndpointScheme.Unix, ep.Scheme);
            Assert.Equal(path, ep.SocketPath);
            Assert.Equal("unix://" + path, ep.ToString());
            Assert.Null(ep.User);
            Assert.Null(ep.Host);
            Assert.Equal(0, ep.Port);
        }

        [Theory]
        [InlineData("tcp://manager:2375", "tcp://manager:2375", "manager", 2375)]
        [InlineData("tcp://manager", "tcp://manager:2375", "manager", 2375)]
        [InlineData("tcp://10.1.2.3:2376", "tcp://10.1.2.3:2376", "10.1.2.3", 2376)]
        [InlineData("tcp://[fe80::1]:2376", "tcp://[fe80::1]:2376", "fe80::1", 2376)]
        public void Parse_Tcp(string input, string canonical, string host, int port)
        {
            var ep = SwarmEndpoint.Parse(input, "deploy");
            Assert.Equal(EndpointScheme.Tcp, ep.Scheme);
            Assert.Equal(canonical, ep.ToString());
            Assert.Equal(host, ep.Host);
            Assert.Equal(port, ep.Port);
            Assert.Null(ep.User);
            Assert.Null(ep.SocketPath);
        }

        [Theory]
        [InlineData("", "empty")]
        [InlineData("   ", "empty")]
        [InlineData("http://node1", "scheme 'http' is not supported")]
        [InlineData("https://node1:2376", "scheme 'https' is not supported")]
        [InlineData("npipe:////./pipe/docker_engine", "scheme 'npipe' is not supported")]
        [InlineData("://node1", "scheme before '://' is missing")]
        [InlineData("unix:/var/run/docker.sock", "lacks '://'")]
        [InlineData("ssh://node1/extra", "path, query or fragment")]
        [InlineData("ssh://node1/", "path, query or fragment")]
        [InlineData("ssh://root@node1:22/x", "path, query or fragment")]
        [InlineData("ssh://node1?x=1", "path, query or fragment")]
        [InlineData("ssh://node1#frag", "path, query or fragment")]
        [InlineData("node1/extra", "path, query or fragment")]
        [InlineData("ssh://node1:0", "out of range")]
        [InlineData("ssh://node1:65536", "out of range")]
        [InlineData("ssh://node1:99999999999", "out of range")]
        [InlineData("ssh://node1:abc", "not a number")]
        [InlineData("ssh://node1:-1", "not a number")]
        [InlineData("ssh://node1:+22", "not a number")]
        [InlineData("ssh://node1:", "port after ':' is empty")]
        [InlineData("tcp://node1:0", "out of range")]
        [InlineData("ssh://", "host is empty")]
        [InlineData("ssh://root@", "host is empty")]
        [InlineData("ssh://root@:22", "host is empty")]
        [InlineData("ssh://[]:22", "host is empty")]
        [InlineData("tcp://", "host is empty")]
        [InlineData("tcp://:2375", "host is empty")]
        [InlineData("ssh://@node1", "user name before '@' is empty")]
        [InlineData("ssh://a@b@node1", "more than one '@'")]
        [InlineData("unix://var/run/docker.sock", "must be absolute")]
        [InlineData("unix://", "socket path is missing")]
        [InlineData("unix:///var/run/", "directory")]
        [InlineData("ssh://no de1", "whitespace")]
        [InlineData("ssh://node1,\tnode2", "whitespace")]
        [InlineData("ssh://::1", "IPv6 addresses must be written in brackets")]
        [InlineData("::1", "IPv6 addresses must be written in brackets")]
        [InlineData("ssh://[::1", "no matching ']'")]
        [InlineData("ssh://[node1]:22", "not an IPv6 address")]
        [InlineData("ssh://[10.0.0.1]", "not an IPv6 address")]
        [InlineData("ssh://[::1]2222", "after ']'")]
        [InlineData("tcp://root@node1", "does not take a user name")]
        [InlineData("tcp://node1:2375/v1.41", "path, query or fragment")]
        [InlineData("ssh://-oProxyCommand=x", "cannot start with '-'")]
        [InlineData("ssh://-x@node1", "user name cannot start with '-'")]
        [InlineData("ssh://no%de1", "contains the character '%'")]
        [InlineData("ssh://node1;rm", "contains the character ';'")]
        public void Parse_Rejects(string input, string reason)
        {
            var ex = Assert.Throws<FormatException>(() => SwarmEndpoint.Parse(input, "deploy"));
            Assert.Contains(reason, ex.Message);
            Assert.Contains("ssh://[user@]host[:port]", ex.Message); // says what form is expected
            if (input.Trim().Length > 0)
            {
                Assert.Contains("'" + input.Trim() + "'", ex.Message); // quotes the input
            }
        }

        [Fact]
        public void Parse_RejectsNull()
        {
            var ex = Assert.Throws<FormatException>(() => SwarmEndpoint.Parse(null));
            Assert.Contains("empty", ex.Message);
        }

        [Theory]
        [InlineData("ssh://root:hunter2@node1", "'ssh://root:***@node1'")]
        [InlineData("ssh://root:@node1:22", "'ssh://root:***@node1:22'")]
        [InlineData("root:hunter2@node1", "'root:***@node1'")]
        [InlineData("ssh://root:hun/ter2@node1", "'ssh://root:***@node1'")]
        [InlineData("tcp://root:hunter2@node1", "'tcp://root:***@node1'")]
        public void Parse_RejectsPasswords_WithoutEchoingThem(string input, string quoted)
        {
            var ex = Assert.Throws<FormatException>(() => SwarmEndpoint.Parse(input));
            Assert.Contains("passwords are not accepted", ex.Message);
            Assert.Contains(quoted, ex.Message);
            Assert.DoesNotContain("hunter2", ex.Message);
            Assert.DoesNotContain("ter2", ex.Message);
        }

        [Fact]
        public void ParseList_SplitsCommasAndTrims()
        {
            var list = SwarmEndpoint.ParseList(new[] { "ssh://a, root@b:2222", " unix:///var/run/docker.sock ", "tcp://c" }, "deploy");
            Assert.Equal(
                new[] { "ssh://deploy@a:22", "ssh://root@b:2222", "unix:///var/run/docker.sock", "tcp://c:2375" },
                list.Select(e => e.ToString()).ToArray());
            Assert.Equal("root@b:2222", list[1].Original);
        }

        [Theory]
        [InlineData("ssh://a,,ssh://b")]
        [InlineData("ssh://a,")]
        [InlineData(",ssh://a")]
        [InlineData(" , ")]
        public void ParseList_RejectsEmptyEntries(string item)
        {
            var ex = Assert.Throws<FormatException>(() => SwarmEndpoint.ParseList(new[] { item }, "deploy"));
            Assert.Contains("empty", ex.Message);
        }

        [Fact]
        public void ParseList_RejectsEmptyInputs()
        {
            Assert.Throws<FormatException>(() => SwarmEndpoint.ParseList(new string[0], "deploy"));
            Assert.Throws<FormatException>(() => SwarmEndpoint.ParseList(new[] { "" }, "deploy"));
            Assert.Throws<FormatException>(() => SwarmEndpoint.ParseList(new string[] { null }, "deploy"));
            Assert.Throws<ArgumentNullException>(() => SwarmEndpoint.ParseList(null, "deploy"));
        }

        [Fact]
        public void ParseList_PropagatesItemErrorsAndRedacts()
        {
            var ex = Assert.Throws<FormatException>(() => SwarmEndpoint.ParseList(new[] { "ssh://a,ssh://u:secret@b" }, "deploy"));
            Assert.Contains("passwords are not accepted", ex.Message);
            Assert.DoesNotContain("secret", ex.Message);

            ex = Assert.Throws<FormatException>(() => SwarmEndpoint.ParseList(new[] { "ssh://u:secret@b,," }, "deploy"));
            Assert.DoesNotContain("secret", ex.Message);

            ex = Assert.Throws<FormatException>(() => SwarmEndpoint.ParseList(new[] { "ssh://a", "http://b" }, "deploy"));
            Assert.Contains("'http://b'", ex.Message);
        }

        [Fact]
        public void Equality_UsesCanonicalForm()
        {
            var a = SwarmEndpoint.Parse("root@Node1", "x");
            var b = SwarmEndpoint.Parse("ssh://root@node1:22", "x");
            var c = SwarmEndpoint.Parse("ssh://root@node1:2222", "x");
            Assert.Equal(a, b);
            Assert.Equal(a.GetHashCode(), b.GetHashCode());
            Assert.NotEqual(a, c);
            Assert.False(a.Equals(null));
        }
    }
}
