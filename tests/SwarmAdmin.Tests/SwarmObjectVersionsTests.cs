using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using SwarmAdmin.Secrets;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>Update-SwarmSecret / Update-SwarmConfig: version naming, the next version, which references move, what may be removed.</summary>
    public class SwarmObjectVersionsTests
    {
        private static StoredObject Obj(string id, string name, string baseLabel = null, string version = null, string kind = "secret")
        {
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (baseLabel != null) labels[SwarmObjectVersions.BaseLabel(kind)] = baseLabel;
            if (version != null) labels[SwarmObjectVersions.VersionLabel(kind)] = version;
            return new StoredObject { Id = id, Name = name, Labels = labels };
        }

        [Fact]
        public void Labels_and_names_follow_the_scheme()
        {
            Assert.Equal("com.swarmadmin.secret.base", SwarmObjectVersions.BaseLabel("secret"));
            Assert.Equal("com.swarmadmin.config.version", SwarmObjectVersions.VersionLabel("config"));
            Assert.Equal("db", SwarmObjectVersions.VersionedName("db", 0));
            Assert.Equal("db.v1", SwarmObjectVersions.VersionedName("db", 1));
            Assert.Equal("db.v12", SwarmObjectVersions.VersionedName("db", 12));
        }

        [Theory]
        [InlineData("3", 3)]
        [InlineData(" 7 ", 7)]
        [InlineData("0", 0)]
        [InlineData("-1", null)]
        [InlineData("v2", null)]
        [InlineData("", null)]
        [InlineData(null, null)]
        [InlineData("99999999999", null)]
        public void ParseVersion_accepts_non_negative_integers_only(string text, int? expected)
            => Assert.Equal(expected, SwarmObjectVersions.ParseVersion(text));

        [Fact]
        public void Identify_uses_the_labels_and_never_the_name()
        {
            Assert.Equal(("db", 2), SwarmObjectVersions.Identify("secret", "db.v2", Obj("1", "db.v2", "db", "2").Labels));
            // a name that looks versioned but has no labels is its own base, version 0
            Assert.Equal(("db.v2", 0), SwarmObjectVersions.Identify("secret", "db.v2", Obj("1", "db.v2").Labels));
            // a bad version label: unversioned
            Assert.Equal(("x", 0), SwarmObjectVersions.Identify("secret", "x", Obj("1", "x", "db", "two").Labels));
            // the other kind's labels do not count
            Assert.Equal(("db.v1", 0), SwarmObjectVersions.Identify("config", "db.v1", Obj("1", "db.v1", "db", "1", kind: "secret").Labels));
            Assert.Equal(("db", 0), SwarmObjectVersions.Identify("secret", "db", null));
        }

        [Fact]
        public void VersionsOf_finds_the_plain_base_and_the_labelled_versions_in_order()
        {
            var items = new[]
            {
                Obj("c", "db.v3", "db", "3"), Obj("a", "db"), Obj("b", "db.v1", "db", "1"),
                Obj("d", "db.v2"),                  // made by hand: not a version of db
                Obj("e", "dbx"), Obj("f", "other.v1", "other", "1"),
            };
            var v = SwarmObjectVersions.VersionsOf(items, "secret", "db", o => o.Name, o => o.Labels);
            Assert.Equal(new[] { "a", "b", "c" }, v.Select(x => x.Item.Id));
            Assert.Equal(new[] { 0, 1, 3 }, v.Select(x => x.Version));
            Assert.Empty(SwarmObjectVersions.VersionsOf(items, "secret", "nothing", o => o.Name, o => o.Labels));
        }

        [Fact]
        public void Next_follows_the_highest_label_and_skips_taken_names()
        {
            Assert.Equal((1, "db.v1"), SwarmObjectVersions.Next("db", new[] { 0 }, new HashSet<string> { "db" }));
            Assert.Equal((4, "db.v4"), SwarmObjectVersions.Next("db", new[] { 0, 1, 3 }, new HashSet<string> { "db", "db.v1", "db.v3" }));
            // db.v4 exists without labels (New-SwarmSecret -Name db.v4): the rotation goes to v5
            Assert.Equal((5, "db.v5"), SwarmObjectVersions.Next("db", new[] { 3 }, new HashSet<string> { "db.v3", "db.v4" }));
            Assert.Equal((1, "db.v1"), SwarmObjectVersions.Next("db", new int[0], null));
        }

        [Fact]
        public void ReferencesToMove_matches_by_id_and_by_name_only_without_id()
        {
            var ids = new HashSet<string> { "old0", "old1" };
            var names = new HashSet<string> { "db", "db.v1" };
            var refs = new List<ObjectReference>
            {
                new ObjectReference("old0", "db"),      // 0: moves
                new ObjectReference("other", "db"),     // 1: same name, another object (id wins): stays
                new ObjectReference(null, "db.v1"),     // 2: no id: by name, moves
                new ObjectReference("new", "db.v2"),    // 3: already the new one
                new ObjectReference("old1", "renamed"), // 4: by id, moves
            };
            Assert.Equal(new[] { 0, 2, 4 }, SwarmObjectVersions.ReferencesToMove(refs, ids, names, "new"));
        }

        [Fact]
        public void Unused_keeps_what_any_service_still_references_and_never_the_new_version()
        {
            var old = new[] { Obj("a", "db"), Obj("b", "db.v1", "db", "1"), Obj("n", "db.v2", "db", "2") };
            var refs = new[] { new ObjectReference("b", "db.v1"), new ObjectReference("n", "db.v2") };
            Assert.Equal(new[] { "a" }, SwarmObjectVersions.Unused(old, refs, "n").Select(o => o.Id));
            Assert.Equal(new[] { "a", "b" }, SwarmObjectVersions.Unused(old, new ObjectReference[0], "n").Select(o => o.Id));
        }

        [Fact]
        public void UsedBy_names_each_service_once_sorted()
        {
            var o = Obj("a", "db");
            var services = new (string, IEnumerable<ObjectReference>)[]
            {
                ("web", new[] { new ObjectReference("a", "db"), new ObjectReference("a", "db") }),
                ("api", new[] { new ObjectReference("a", "db") }),
                ("cache", new[] { new ObjectReference("z", "other") }),
                ("none", null),
            };
            Assert.Equal(new[] { "api", "web" }, SwarmObjectVersions.UsedBy(o, services));
        }

        [Fact]
        public void MoveReferences_changes_only_id_and_name_and_keeps_the_target_and_the_rest_of_the_spec()
        {
            var spec = (JsonObject)JsonNode.Parse(@"{
              ""Name"": ""web"", ""Labels"": { ""a"": ""b"" },
              ""TaskTemplate"": { ""ContainerSpec"": {
                ""Image"": ""lab/busybox:1"", ""Args"": [""sleep"", ""3600""],
                ""Secrets"": [
                  { ""File"": { ""Name"": ""pw"", ""UID"": ""1000"", ""GID"": ""1001"", ""Mode"": 256 }, ""SecretID"": ""old0"", ""SecretName"": ""db"" },
                  { ""File"": { ""Name"": ""other"", ""UID"": ""0"", ""GID"": ""0"", ""Mode"": 292 }, ""SecretID"": ""x"", ""SecretName"": ""other"" },
                  { ""File"": { ""Name"": ""pw2"", ""UID"": ""0"", ""GID"": ""0"", ""Mode"": 292 }, ""SecretID"": ""old1"", ""SecretName"": ""db.v1"" }
                ],
                ""Configs"": [ { ""Runtime"": {}, ""ConfigID"": ""old0"", ""ConfigName"": ""db"" } ] },
                ""ForceUpdate"": 3 },
              ""Mode"": { ""Replicated"": { ""Replicas"": 2 } }
            }");
            string before = spec.ToJsonString();
            var moved = SwarmObjectVersions.MoveReferences(spec, "Secrets", "SecretID", "SecretName",
                new HashSet<string> { "old0", "old1" }, new HashSet<string> { "db", "db.v1" }, "new", "db.v2");
            Assert.Equal(new[] { "db", "db.v1" }, moved);
            var secrets = (JsonArray)spec["TaskTemplate"]["ContainerSpec"]["Secrets"];
            Assert.Equal("new", (string)secrets[0]["SecretID"]);
            Assert.Equal("db.v2", (string)secrets[0]["SecretName"]);
            Assert.Equal(@"{""Name"":""pw"",""UID"":""1000"",""GID"":""1001"",""Mode"":256}", secrets[0]["File"].ToJsonString());
            Assert.Equal("x", (string)secrets[1]["SecretID"]);
            Assert.Equal("new", (string)secrets[2]["SecretID"]);
            Assert.Equal(@"{""Name"":""pw2"",""UID"":""0"",""GID"":""0"",""Mode"":292}", secrets[2]["File"].ToJsonString());
            // the configs (same ids by chance) and every other field are untouched
            Assert.Equal("old0", (string)spec["TaskTemplate"]["ContainerSpec"]["Configs"][0]["ConfigID"]);
            Assert.Equal(before.Replace("\"old0\",\"SecretName\":\"db\"", "\"new\",\"SecretName\":\"db.v2\"").Replace("\"old1\",\"SecretName\":\"db.v1\"", "\"new\",\"SecretName\":\"db.v2\""), spec.ToJsonString());
        }

        [Fact]
        public void MoveReferences_without_references_changes_nothing()
        {
            var spec = (JsonObject)JsonNode.Parse(@"{ ""TaskTemplate"": { ""ContainerSpec"": { ""Image"": ""x"" } } }");
            Assert.Empty(SwarmObjectVersions.MoveReferences(spec, "Configs", "ConfigID", "ConfigName", new HashSet<string> { "a" }, new HashSet<string> { "a" }, "n", "a.v1"));
            Assert.Empty(SwarmObjectVersions.MoveReferences(null, "Configs", "ConfigID", "ConfigName", new HashSet<string> { "a" }, new HashSet<string> { "a" }, "n", "a.v1"));
        }
    }
}
