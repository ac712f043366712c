using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using SwarmAdmin.Engine;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class OsReleaseTests
    {
        [Fact]
        public void ParsesDebianWithQuotesAndComments()
        {
            var os = OsRelease.Parse("# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n");
            Assert.Equal("debian", os.Id);
            Assert.Equal("12", os.VersionId);
            Assert.Equal("bookworm", os.Codename);
            Assert.Equal("Debian GNU/Linux 12 (bookworm)", os.ToString());
            Assert.Null(os.WhyUnsupported(SwarmEngineSource.Distribution));
            Assert.Null(os.WhyUnsupported(SwarmEngineSource.DockerRepository));
        }

        [Fact]
        public void DebianWithoutVersionIdTakesItFromTheCodename()
        {
            // what the SwarmAdmin lab nodes have
            var os = OsRelease.Parse("PRETTY_NAME=\"SwarmAdmin lab node (Debian trixie packages)\"\nNAME=\"SwarmAdmin lab node\"\nID=debian\nVERSION_CODENAME=trixie\n");
            Assert.Equal("13", os.VersionId);
            Assert.Null(os.WhyUnsupported(SwarmEngineSource.Distribution));
        }

        [Fact]
        public void UbuntuVersionsAndSingleQuotes()
        {
            var ok = OsRelease.Parse("ID=ubuntu\nID_LIKE=debian\nVERSION_ID='22.04'\nVERSION_CODENAME=jammy\nUBUNTU_CODENAME=jammy\n");
            Assert.Equal("22.04", ok.VersionId);
            Assert.Null(ok.WhyUnsupported(SwarmEngineSource.DockerRepository));
            var old = OsRelease.Parse("ID=ubuntu\nVERSION_ID=\"18.04\"\nVERSION_CODENAME=bionic\n");
            Assert.Contains("older than Ubuntu 20.04", old.WhyUnsupported(SwarmEngineSource.Distribution));
            Assert.Null(OsRelease.Parse("ID=ubuntu\nVERSION_ID=20.04\n").WhyUnsupported(SwarmEngineSource.Distribution));
            Assert.Contains("older than Debian 11", OsRelease.Parse("ID=debian\nVERSION_ID=10\n").WhyUnsupported(SwarmEngineSource.Distribution));
        }

        [Fact]
        public void DerivativesOnlyFromTheDistribution()
        {
            var mint = OsRelease.Parse("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=21.3\nUBUNTU_CODENAME=jammy\n");
            Assert.Null(mint.WhyUnsupported(SwarmEngineSource.Distribution));
            Assert.Contains("-Source Distribution", mint.WhyUnsupported(SwarmEngineSource.DockerRepository));
        }

        [Theory]
        [InlineData("ID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME=\"Alpine Linux v3.20\"\n", "alpine")]
        [InlineData("ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n", "rhel")]
        [InlineData("", "linux")]
        public void OtherSystemsAreRefusedWithTheirId(string text, string id)
        {
            var os = OsRelease.Parse(text);
            Assert.Equal(id, os.Id);
            string why = os.WhyUnsupported(SwarmEngineSource.Distribution);
            Assert.Contains($"ID={id}", why);
            Assert.Contains("Debian 11+ and Ubuntu 20.04+", why);
        }

        [Fact]
        public void DockerRepositoryNeedsACodename()
        {
            var os = OsRelease.Parse("ID=debian\nVERSION_ID=12\n");
            Assert.Null(os.WhyUnsupported(SwarmEngineSource.Distribution));
            Assert.Contains("VERSION_CODENAME", os.WhyUnsupported(SwarmEngineSource.DockerRepository));
        }
    }

    public class DaemonConfigTests
    {
        [Fact]
        public void DefaultsHaveLogRotationMtuAndMetrics()
        {
            var d = DaemonConfigJson.Defaults(1400, "10.0.0.5:9323", "26.1.5+dfsg1-9");
            Assert.Equal("{\"log-driver\":\"json-file\",\"log-opts\":{\"max-file\":\"3\",\"max-size\":\"10m\"},\"metrics-addr\":\"10.0.0.5:9323\",\"mtu\":1400}", DaemonConfigJson.Canonical(d));
            Assert.False(d.ContainsKey("experimental"));
        }

        [Theory]
        [InlineData("19.03.13", true)]
        [InlineData("18.09.1+dfsg1-7.1+deb10u3", true)]
        [InlineData("20.10.5+dfsg1-1+deb11u2", false)]
        [InlineData("5:20.10.24~3-0~debian-11~bullseye", false)]
        [InlineData("5:19.03.15~3-0~debian-buster", true)]
        [InlineData(null, false)]
        public void ExperimentalOnlyBefore2010ForMetrics(string version, bool experimental)
        {
            var d = DaemonConfigJson.Defaults(1500, "10.0.0.5:9323", version);
            Assert.Equal(experimental, d.ContainsKey("experimental"));
            Assert.False(DaemonConfigJson.Defaults(1500, null, version).ContainsKey("experimental"));
        }

        [Fact]
        public void UnknownMtuIsLeftOut()
        {
            Assert.False(DaemonConfigJson.Defaults(null, null, null).ContainsKey("mtu"));
            Assert.False(DaemonConfigJson.Defaults(0, null, null).ContainsKey("mtu"));
        }

        [Fact]
        public void MergeOverridesNestsAndRemovesWithNull()
        {
            var d = DaemonConfigJson.Defaults(1500, "10.0.0.5:9323", null);
            var user = new Hashtable
            {
                ["log-opts"] = new Hashtable { ["max-size"] = "50m" },
                ["metrics-addr"] = null,
                ["cgroup-parent"] = "/swarmlab-f1",
                ["live-restore"] = true,
                ["default-address-pools"] = new object[] { new Hashtable { ["base"] = "10.20.0.0/16", ["size"] = 24 } },
            };
            var merged = DaemonConfigJson.Merge(d, user);
            Assert.Equal("50m", (string)merged["log-opts"]["max-size"]);
            Assert.Equal("3", (string)merged["log-opts"]["max-file"]);
            Assert.False(merged.ContainsKey("metrics-addr"));
            Assert.Equal("/swarmlab-f1", (string)merged["cgroup-parent"]);
            Assert.True((bool)merged["live-restore"]);
            Assert.Equal(24, (int)merged["default-address-pools"][0]["size"]);
            // the defaults object is not changed
            Assert.Equal("10m", (string)d["log-opts"]["max-size"]);
        }

        [Fact]
        public void NonHashtableReplacesADefaultObject()
        {
            var merged = DaemonConfigJson.Merge(DaemonConfigJson.Defaults(1500, null, null), new Hashtable { ["log-opts"] = "x", ["log-driver"] = "journald" });
            Assert.Equal("x", (string)merged["log-opts"]);
            Assert.Equal("journald", (string)merged["log-driver"]);
        }

        [Fact]
        public void UnsupportedValuesAreRefusedWithTheirPath()
        {
            var ex = Assert.Throws<ArgumentException>(() => DaemonConfigJson.Merge(new JsonObject(), new Hashtable { ["a"] = new Hashtable { ["b"] = DateTime.Now } }));
            Assert.Contains("'a.b'", ex.Message);
        }

        [Theory]
        [InlineData("{\"mtu\":1500,\"log-driver\":\"json-file\"}", "{\n  \"log-driver\": \"json-file\",\n  \"mtu\": 1500.0\n}", true)]
        [InlineData("{\"a\":{\"x\":1,\"y\":[1,2]}}", "{\"a\":{\"y\":[1,2],\"x\":1}}", true)]
        [InlineData("{\"a\":[1,2]}", "{\"a\":[2,1]}", false)]
        [InlineData("{\"a\":\"1\"}", "{\"a\":1}", false)]
        [InlineData("{\"a\":true}", "{\"a\":\"true\"}", false)]
        [InlineData("{\"a\":1}", "{\"a\":1,\"b\":null}", false)]
        [InlineData("{\"a\":1e3}", "{\"a\":1000}", true)]
        [InlineData("// comment\n{\"a\":1,}", "{\"a\":1}", true)]
        public void ComparesAsParsedJson(string a, string b, bool same)
        {
            Assert.Equal(same, DaemonConfigJson.SameMeaning(DaemonConfigJson.Parse(a), DaemonConfigJson.Parse(b)));
        }

        [Fact]
        public void FormatIsStableAndRoundTrips()
        {
            var merged = DaemonConfigJson.Merge(DaemonConfigJson.Defaults(1450, "10.0.0.5:9323", null), new Hashtable { ["zz"] = 1, ["aa"] = "x" });
            string text = DaemonConfigJson.Format(merged);
            Assert.EndsWith("\n", text);
            Assert.True(text.IndexOf("\"aa\"", StringComparison.Ordinal) < text.IndexOf("\"zz\"", StringComparison.Ordinal));
            Assert.True(DaemonConfigJson.SameMeaning(DaemonConfigJson.Parse(text), merged));
            Assert.Equal(text, DaemonConfigJson.Format((JsonObject)DaemonConfigJson.Parse(text)));
        }

        [Fact]
        public void DroppedKeysAreTheTopLevelKeysOnlyTheOldFileHas()
        {
            var wanted = DaemonConfigJson.Defaults(1500, null, null);
            var dropped = DaemonConfigJson.DroppedKeys(DaemonConfigJson.Parse("{\"log-driver\":\"local\",\"debug\":true,\"bip\":\"172.26.0.1/16\"}"), wanted);
            Assert.Equal(new[] { "bip", "debug" }, dropped);
            Assert.Empty(DaemonConfigJson.DroppedKeys(null, wanted));
        }

        [Theory]
        [InlineData("10.0.0.5", "10.0.0.5:9323")]
        [InlineData("fd00::5", "[fd00::5]:9323")]
        [InlineData(null, null)]
        public void MetricsAddress(string ip, string expected) => Assert.Equal(expected, DaemonConfigJson.MetricsAddressFor(ip));
    }

    public class EngineVersionChoiceTests
    {
        private static NodeVersionFacts N(string node, string installed, string candidate) => new NodeVersionFacts { Node = node, Installed = installed, Candidate = candidate };

        [Fact]
        public void ExplicitVersionWinsAndOthersAreSkew()
        {
            var c = EngineVersions.Choose("26.1.5+dfsg1-9", new[] { N("a", "26.1.5+dfsg1-9", null), N("b", "20.10.24+dfsg1-1", null), N("c", null, "26.1.5+dfsg1-10") });
            Assert.Equal("26.1.5+dfsg1-9", c.Version);
            Assert.Equal("-Version", c.Origin);
            Assert.Equal(new[] { ("b", "20.10.24+dfsg1-1") }, c.Skew);
        }

        [Fact]
        public void FirstInstalledNodeSetsTheVersionSoNewNodesMatch()
        {
            var c = EngineVersions.Choose(null, new[] { N("new1", null, "26.1.5+dfsg1-10"), N("old1", "26.1.5+dfsg1-9", "26.1.5+dfsg1-10"), N("old2", "26.1.5+dfsg1-8", null) });
            Assert.Equal("26.1.5+dfsg1-9", c.Version);
            Assert.Equal("installed on old1", c.Origin);
            Assert.Equal(new[] { ("old2", "26.1.5+dfsg1-8") }, c.Skew);
        }

        [Fact]
        public void WithNothingInstalledTheFirstNodesCandidateIsUsedForAll()
        {
            var c = EngineVersions.Choose(null, new[] { N("f1", null, "20.10.24+dfsg1-1+deb12u1"), N("f2", null, "20.10.24+dfsg1-1+deb12u2") });
            Assert.Equal("20.10.24+dfsg1-1+deb12u1", c.Version);
            Assert.Equal("APT candidate on f1", c.Origin);
            Assert.Empty(c.Skew);
        }

        [Fact]
        public void AFirstNodeWithoutCandidateIsSkipped()
        {
            var c = EngineVersions.Choose(null, new[] { N("broken", null, null), N("f2", null, "27.0") });
            Assert.Equal("27.0", c.Version);
            Assert.Null(EngineVersions.Choose(null, new[] { N("x", null, null) }).Version);
        }

        [Theory]
        [InlineData("5:27.3.1-1~debian.12~bookworm", "27.3.1")]
        [InlineData("5:27.3.1-1~ubuntu.22.04~jammy", "27.3.1")]
        [InlineData("20.10.24+dfsg1-1+b3", "20.10.24")]
        [InlineData("20.10.24+dfsg1-1+deb12u1+b6", "20.10.24")]
        [InlineData("24.0.7-0ubuntu2~22.04.1", "24.0.7")]
        [InlineData("27.3.1", "27.3.1")]
        [InlineData("1:2.0-3", "2.0")]
        [InlineData("5:28.0.0~rc.1-1~debian.12~bookworm", "28.0.0~rc.1")]
        public void UpstreamIsTheEnginesOwnVersion(string package, string upstream) => Assert.Equal(upstream, EngineVersions.Upstream(package));

        private static NodeVersionFacts R(string name, string release, string installed, params string[] available)
            => new NodeVersionFacts { Node = name, Release = release, Installed = installed, Available = available.Length == 0 ? null : available };

        [Fact]
        public void ANodeOfAnotherReleaseGetsItsBuildOfTheSameEngine()
        {
            var bullseye = R("b", "debian bullseye", null, "5:27.3.1-1~debian.11~bullseye", "5:27.3.0-1~debian.11~bullseye");
            // from a bookworm node of the run, or named by -Version with its codename
            Assert.Equal("5:27.3.1-1~debian.11~bullseye", EngineVersions.ForNode("5:27.3.1-1~debian.12~bookworm", "debian bookworm", bullseye));
            Assert.Equal("5:27.3.1-1~debian.11~bullseye", EngineVersions.ForNode("5:27.3.1-1~debian.12~bookworm", null, bullseye));
            // -Version with only the engine's version picks each release's build
            Assert.Equal("5:27.3.0-1~debian.11~bullseye", EngineVersions.ForNode("27.3.0", null, bullseye));
        }

        [Fact]
        public void WithinOneReleaseTheExactPackageIsKept()
        {
            // a node without the security suite offers only the older build: it fails rather than quietly getting it
            var noSecurity = R("b", "debian bookworm", null, "20.10.24+dfsg1-1+b3");
            Assert.Null(EngineVersions.ForNode("20.10.24+dfsg1-1+deb12u1+b6", "debian bookworm", noSecurity));
            Assert.Null(EngineVersions.ForNode("20.10.24+dfsg1-1+deb12u1+b6", null, noSecurity));
            Assert.Equal("20.10.24+dfsg1-1+b3", EngineVersions.ForNode("20.10.24", null, noSecurity));
        }

        [Fact]
        public void TheRunsVersionItselfWinsWhereAptOffersItOrWhereOffersAreUnknown()
        {
            Assert.Equal("20.10.24+dfsg1-1+b3", EngineVersions.ForNode("20.10.24+dfsg1-1+b3", "debian bookworm", R("a", "debian bookworm", null, "20.10.24+dfsg1-1+deb12u1+b6", "20.10.24+dfsg1-1+b3")));
            Assert.Equal("20.10.24+dfsg1-1+b3", EngineVersions.ForNode("20.10.24+dfsg1-1+b3", "debian bookworm", R("a", "debian bookworm", null)));
        }

        [Fact]
        public void NoBuildOfTheEngineOnANodeGivesNull()
        {
            Assert.Null(EngineVersions.ForNode("20.10.24+dfsg1-1+b3", "debian bookworm", R("u", "ubuntu jammy", null, "24.0.7-0ubuntu2~22.04.1")));
            Assert.Null(EngineVersions.ForNode(null, null, R("u", "ubuntu jammy", null, "24.0.7-0ubuntu2~22.04.1")));
        }

        [Fact]
        public void AnEngineOnlyVersionIsMetByAnyBuildOfIt()
        {
            var c = EngineVersions.Choose("27.3.1", new[] { R("a", "debian bookworm", "5:27.3.1-1~debian.12~bookworm"), R("b", "debian bookworm", "5:27.2.0-1~debian.12~bookworm") });
            Assert.Equal(new[] { ("b", "5:27.2.0-1~debian.12~bookworm") }, c.Skew);
        }

        [Fact]
        public void AnotherReleasesBuildOfTheSameEngineIsNoSkewButAnotherEngineIs()
        {
            var c = EngineVersions.Choose(null, new[]
            {
                R("book", "debian bookworm", "5:27.3.1-1~debian.12~bookworm"),
                R("bull", "debian bullseye", "5:27.3.1-1~debian.11~bullseye"),
                R("bull2", "debian bullseye", "5:26.1.0-1~debian.11~bullseye"),
                R("book2", "debian bookworm", "5:27.3.1-2~debian.12~bookworm"),
            });
            Assert.Equal("5:27.3.1-1~debian.12~bookworm", c.Version);
            // same release, another package revision: skew (the exact package matters there)
            Assert.Equal(new[] { ("bull2", "5:26.1.0-1~debian.11~bullseye"), ("book2", "5:27.3.1-2~debian.12~bookworm") }, c.Skew);
        }
    }

    public class EngineInstallPlanTests
    {
        private static EngineNodeFacts Facts(string extra = "")
        {
            string os = Convert.ToBase64String(Encoding.UTF8.GetBytes("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"));
            return EngineNodeFacts.Parse($"os={os}\napt=1\nsystemd=1\nenabled=not-found\nactive=inactive\narch=amd64\nsshaddr=10.213.57.91\niface=eth0\nmtu=1450\naddrs=127.0.0.1 10.213.57.91 ::1 \ncandidate=20.10.24+dfsg1-1+b3\n" + extra);
        }

        private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

        private static EngineInstallRequest Req(Action<EngineInstallRequest> change = null)
        {
            var r = new EngineInstallRequest { Source = SwarmEngineSource.Distribution, AptProxy = "http://10.213.57.1:3142" };
            change?.Invoke(r);
            return r;
        }

        [Fact]
        public void ParsesTheProbe()
        {
            var f = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\npkg=containerd ii  1.6.20~ds1-1+b1\npkg=docker-ce un  \ndaemonjson=" + B64("{\"mtu\":1450}") + "\n");
            Assert.Equal("debian", f.Os.Id);
            Assert.True(f.HasApt);
            Assert.True(f.HasSystemd);
            Assert.False(f.ServiceActive);
            Assert.Equal("20.10.24+dfsg1-1+b3", f.Packages["docker.io"]);
            Assert.Contains("docker.io", f.Held);
            Assert.DoesNotContain("containerd", f.Held);
            Assert.False(f.Packages.ContainsKey("docker-ce"));
            Assert.Equal(1450, f.Mtu);
            Assert.True(f.DaemonJsonExists);
            Assert.Equal("{\"mtu\":1450}", f.DaemonJson);
            Assert.Equal("10.213.57.91", f.SshAddress);
        }

        [Fact]
        public void FreshNodeGetsEveryStep()
        {
            var plan = EngineInstallPlan.Make(Facts(), Req(r => r.DaemonConfig = new Hashtable { ["cgroup-parent"] = "/swarmlab-f1" }), "10.213.57.91", null);
            Assert.Equal(new[] { "AptProxy", "AptUpdate", "Resolve", "DaemonConfig", "Install", "Hold", "Service", "Verify" }, plan.Steps.Select(s => s.Name));
            Assert.True(plan.NeedsUpdate);
            Assert.True(plan.NeedsInstall);
            Assert.True(plan.DaemonConfigChanged);
            Assert.Equal(new[] { "docker.io" }, plan.HoldMissing);
            Assert.Equal("10.213.57.91:9323", (string)plan.DaemonConfig["metrics-addr"]);
            Assert.Equal(1450, (int)plan.DaemonConfig["mtu"]);
            Assert.Equal("/swarmlab-f1", (string)plan.DaemonConfig["cgroup-parent"]);
            Assert.Contains("Acquire::http::Proxy \"http://10.213.57.1:3142\";", plan.AptProxyContent);
            Assert.Contains("systemctl enable --now docker", plan.Describe());
            Assert.DoesNotContain("Verify", plan.Describe());
        }

        [Fact]
        public void SameVersionSameConfigChangesNothing()
        {
            var first = EngineInstallPlan.Make(Facts(), Req(), "10.213.57.91", null);
            // what the node looks like after the first run (daemon.json written with other formatting)
            string json = "{ \"mtu\": 1450.0, \"metrics-addr\": \"10.213.57.91:9323\", \"log-opts\": { \"max-file\": \"3\", \"max-size\": \"10m\" }, \"log-driver\": \"json-file\" }";
            var after = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\nenabled=enabled\nactive=active\ndaemonjson=" + B64(json) + "\naptproxy=" + B64(first.AptProxyContent) + "\n");
            var plan = EngineInstallPlan.Make(after, Req(), "10.213.57.91", "20.10.24+dfsg1-1+b3");
            Assert.All(plan.Steps, s => Assert.False(s.Changed, s.Name + ": " + s.Detail));
            Assert.False(plan.NeedsUpdate);
            Assert.False(plan.NeedsInstall);
            Assert.False(plan.DaemonConfigChanged);
            Assert.Empty(plan.HoldMissing);
        }

        [Fact]
        public void AVersionMetByTheInstalledBuildNeedsNoInstall()
        {
            var installed = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\nenabled=enabled\nactive=active\n");
            // -Version with only the engine's version
            Assert.False(EngineInstallPlan.Make(installed, Req(r => r.Version = "20.10.24"), "10.213.57.91", "20.10.24").NeedsInstall);
            // -Version of another release's build, mapped to the installed one for this node
            Assert.False(EngineInstallPlan.Make(installed, Req(r => r.Version = "20.10.24+dfsg1-1+deb11u2"), "10.213.57.91", "20.10.24+dfsg1-1+b3").NeedsInstall);
            // another engine is an install (a downgrade here)
            Assert.True(EngineInstallPlan.Make(installed, Req(r => r.Version = "20.10.5"), "10.213.57.91", "20.10.5+dfsg1-1").NeedsInstall);
        }

        [Fact]
        public void ChangedConfigOnARunningEngineRestartsIt()
        {
            var after = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\nenabled=enabled\nactive=active\ndaemonjson=" + B64("{\"debug\":true}") + "\n");
            var plan = EngineInstallPlan.Make(after, Req(r => r.AptProxy = null), "10.213.57.91", "20.10.24+dfsg1-1+b3");
            Assert.True(plan.DaemonConfigChanged);
            // the admin's key stays (the defaults are added around it)
            Assert.Empty(plan.DroppedKeys);
            Assert.True((bool)plan.DaemonConfig["debug"]);
            Assert.True(plan.Restart);
            Assert.True(plan.DisruptsEngine);
            Assert.Contains("restart docker", plan.Steps.Single(s => s.Name == "Service").Detail);
            Assert.DoesNotContain("live-restore", plan.Describe());
            Assert.DoesNotContain(plan.Steps, s => s.Name == "AptProxy" || s.Name == "AptUpdate");
        }

        [Fact]
        public void ExistingKeysAreKeptAndWinOverDefaultsButNotOverTheUser()
        {
            string json = "{ \"data-root\": \"/srv/docker\", \"storage-driver\": \"overlay2\", \"registry-mirrors\": [\"http://mirror:5000\"], \"cgroup-parent\": \"/old\", \"log-opts\": { \"max-size\": \"20m\" }, \"debug\": true }";
            var facts = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\nenabled=enabled\nactive=active\ndaemonjson=" + B64(json) + "\n");
            var plan = EngineInstallPlan.Make(facts, Req(r => r.DaemonConfig = new Hashtable { ["cgroup-parent"] = "/new", ["debug"] = null }), "10.213.57.91", "20.10.24+dfsg1-1+b3");
            var c = plan.DaemonConfig;
            Assert.Equal("/srv/docker", (string)c["data-root"]);
            Assert.Equal("overlay2", (string)c["storage-driver"]);
            Assert.Equal("http://mirror:5000", (string)c["registry-mirrors"][0]);
            Assert.Equal("/new", (string)c["cgroup-parent"]);            // -DaemonConfig wins
            Assert.Equal("20m", (string)c["log-opts"]["max-size"]);       // the file wins over the default
            Assert.Equal("3", (string)c["log-opts"]["max-file"]);         // and the default fills in what it lacks
            Assert.Equal("json-file", (string)c["log-driver"]);
            Assert.False(c.ContainsKey("debug"));                        // $null removes
            Assert.Equal(new[] { "debug" }, plan.DroppedKeys);
            // a second run with fewer parameters keeps what the first one wrote
            var after = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\nenabled=enabled\nactive=active\ndaemonjson=" + B64(DaemonConfigJson.Format(c)) + "\n");
            var again = EngineInstallPlan.Make(after, Req(), "10.213.57.91", "20.10.24+dfsg1-1+b3");
            Assert.False(again.DaemonConfigChanged);
            Assert.False(again.Restart);
            Assert.Equal("/new", (string)again.DaemonConfig["cgroup-parent"]);
        }

        [Fact]
        public void MergeWithExistingDoesNotChangeItsInputs()
        {
            var d = DaemonConfigJson.Defaults(null, null, null);
            var existing = DaemonConfigJson.Parse("{\"log-opts\":{\"max-size\":\"1m\"}}");
            var merged = DaemonConfigJson.Merge(d, existing, new Hashtable { ["log-opts"] = new Hashtable { ["max-file"] = "9" } });
            Assert.Equal("{\"log-driver\":\"json-file\",\"log-opts\":{\"max-file\":\"9\",\"max-size\":\"1m\"}}", DaemonConfigJson.Canonical(merged));
            Assert.Equal("10m", (string)d["log-opts"]["max-size"]);
            Assert.Equal("{\"log-opts\":{\"max-size\":\"1m\"}}", DaemonConfigJson.Canonical(existing));
        }

        [Fact]
        public void ADaemonJsonNewerThanTheRunningEngineIsApplied()
        {
            var first = EngineInstallPlan.Make(Facts(), Req(), "10.213.57.91", null);
            string json = DaemonConfigJson.Format(first.DaemonConfig);
            var pending = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\nenabled=enabled\nactive=active\ndaemonjson=" + B64(json) + "\ndjmtime=1700000100\nstarted=1700000000\n");
            var plan = EngineInstallPlan.Make(pending, Req(r => r.AptProxy = null), "10.213.57.91", "20.10.24+dfsg1-1+b3");
            Assert.False(plan.DaemonConfigChanged);
            Assert.True(plan.ApplyPendingConfig);
            Assert.True(plan.Restart);
            Assert.Contains("applying a daemon.json written after the engine started", plan.Steps.Single(s => s.Name == "Service").Detail);
            var applied = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\nenabled=enabled\nactive=active\ndaemonjson=" + B64(json) + "\ndjmtime=1700000000\nstarted=1700000000\n");
            Assert.False(EngineInstallPlan.Make(applied, Req(r => r.AptProxy = null), "10.213.57.91", "20.10.24+dfsg1-1+b3").Restart);
        }

        [Fact]
        public void BridgeMtuOnlyBelow1500AndMetricsOnlyOnAnOwnAddress()
        {
            var jumbo = EngineInstallPlan.Make(Facts("mtu=9000\n"), Req(), "10.213.57.91", null);
            Assert.False(jumbo.DaemonConfig.ContainsKey("mtu"));
            var exact = EngineInstallPlan.Make(Facts("mtu=1500\n"), Req(), "10.213.57.91", null);
            Assert.False(exact.DaemonConfig.ContainsKey("mtu"));
            Assert.Equal(9000, (int)EngineInstallPlan.Make(Facts("mtu=9000\n"), Req(r => r.Mtu = 9000), "10.213.57.91", null).DaemonConfig["mtu"]);
            // reached through a NAT / floating address: no default metrics-addr
            var nat = EngineInstallPlan.Make(Facts(), Req(), "203.0.113.7", null);
            Assert.False(nat.DaemonConfig.ContainsKey("metrics-addr"));
            Assert.Contains("203.0.113.7", nat.MetricsNote);
            Assert.Null(EngineInstallPlan.Make(Facts(), Req(), "10.213.57.91", null).MetricsNote);
        }

        [Fact]
        public void ActiveManagersAreRecognisedAndPackageChangesDisruptThem()
        {
            var mgr = Facts("pkg=docker.io hi  20.10.24+dfsg1-1+b3\nenabled=enabled\nactive=active\nswarm=active true\n");
            Assert.True(mgr.IsActiveManager);
            Assert.False(Facts("swarm=active false\n").IsActiveManager);
            Assert.False(Facts("swarm=inactive false\n").IsActiveManager);
            var upgrade = EngineInstallPlan.Make(mgr, Req(r => { r.AptProxy = null; r.Version = "20.10.25"; }), "10.213.57.91", "20.10.25");
            Assert.True(upgrade.NeedsInstall);
            Assert.True(upgrade.DisruptsEngine);
        }

        [Theory]
        [InlineData("20.10.24+dfsg1-1+b3", true)]
        [InlineData("5:27.3.1-1~debian.12~bookworm", true)]
        [InlineData("1;reboot", false)]
        [InlineData("1 $(id)", false)]
        [InlineData("", false)]
        [InlineData(null, false)]
        public void VersionsFromNodesAreValidated(string v, bool ok) => Assert.Equal(ok, EngineInstallPlan.IsValidVersion(v));

        [Fact]
        public void RiskyUserKeysAreWarnedAbout()
        {
            Assert.Equal(2, DaemonConfigJson.RiskyUserKeys(new Hashtable { ["live-restore"] = true, ["hosts"] = new[] { "tcp://0.0.0.0:2375" } }).Length);
            Assert.Empty(DaemonConfigJson.RiskyUserKeys(new Hashtable { ["live-restore"] = false, ["debug"] = true }));
        }

        [Fact]
        public void AnInvalidDaemonJsonIsReplaced()
        {
            var plan = EngineInstallPlan.Make(Facts("daemonjson=" + B64("{ not json") + "\n"), Req(), null, "1");
            Assert.True(plan.ExistingDaemonJsonInvalid);
            Assert.True(plan.DaemonConfigChanged);
        }

        [Fact]
        public void AnotherInstalledVersionStaysWithoutExplicitVersion()
        {
            var facts = Facts("pkg=docker.io hi  20.10.5+dfsg1-1+deb11u2\nenabled=enabled\nactive=active\n");
            var keep = EngineInstallPlan.Make(facts, Req(), null, "20.10.24+dfsg1-1+b3");
            Assert.False(keep.NeedsInstall);
            Assert.Contains("pass -Version", keep.Steps.Single(s => s.Name == "Install").Detail);
            var align = EngineInstallPlan.Make(facts, Req(r => r.Version = "20.10.24+dfsg1-1+b3"), null, "20.10.24+dfsg1-1+b3");
            Assert.True(align.NeedsInstall);
            Assert.Contains("replaces 20.10.5+dfsg1-1+deb11u2", align.Steps.Single(s => s.Name == "Install").Detail);
        }

        [Fact]
        public void DockerRepositoryWritesADeb822SourceWithSignedBy()
        {
            byte[] key = Encoding.ASCII.GetBytes("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n");
            var req = Req(r => { r.Source = SwarmEngineSource.DockerRepository; r.RepositoryUri = "https://download.docker.com/linux/debian"; r.RepositoryKey = key; });
            var plan = EngineInstallPlan.Make(Facts(), req, null, "5:27.3.1-1~debian.12~bookworm");
            Assert.Equal("/etc/apt/keyrings/swarmadmin-docker.asc", plan.KeyPath);
            Assert.Contains("Types: deb\nURIs: https://download.docker.com/linux/debian\nSuites: bookworm\nComponents: stable\nArchitectures: amd64\nSigned-By: /etc/apt/keyrings/swarmadmin-docker.asc\n", plan.SourcesContent);
            Assert.True(plan.WriteKey);
            Assert.True(plan.NeedsCaCertificates);
            Assert.Contains("docker-ce=5:27.3.1-1~debian.12~bookworm docker-ce-cli=5:27.3.1-1~debian.12~bookworm containerd.io", plan.Steps.Single(s => s.Name == "Install").Detail);
            Assert.Equal(new[] { "docker-ce", "docker-ce-cli", "containerd.io" }, plan.HoldMissing);

            // the same key and source on the node: nothing to write
            var configured = Facts($"ca=1\nsources={B64(plan.SourcesContent)}\nkeysha={EngineInstallPlan.Sha256Hex(key)}  /etc/apt/keyrings/swarmadmin-docker.asc\n");
            var again = EngineInstallPlan.Make(configured, req, null, "5:27.3.1-1~debian.12~bookworm");
            Assert.False(again.Steps.Single(s => s.Name == "Repository").Changed);
            Assert.Equal("/etc/apt/keyrings/swarmadmin-docker.gpg", EngineInstallPlan.KeyPathFor(new byte[] { 0x99, 1, 2, 3, 4, 5, 6 }));
        }

        [Theory]
        [InlineData("http://user:secret@proxy:3142", "http://***@proxy:3142")]
        [InlineData("http://proxy:3142/", "http://proxy:3142/")]
        [InlineData("http://proxy:3142/a@b", "http://proxy:3142/a@b")]
        public void ProxyCredentialsAreRedacted(string url, string shown)
        {
            Assert.Equal(shown, EngineInstallPlan.Redact(url));
            var plan = EngineInstallPlan.Make(Facts(), Req(r => r.AptProxy = url), null, "1");
            Assert.DoesNotContain("secret", plan.Describe());
        }

        [Fact]
        public void TailKeepsTheLastNonEmptyLines()
        {
            Assert.Equal("c\nd", TextTail.Of("a\n\nb\r\nc\n\nd\n\n", 2));
            Assert.Equal("", TextTail.Of(null, 3));
        }
    }
}
