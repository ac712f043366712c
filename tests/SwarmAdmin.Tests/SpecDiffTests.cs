using System;
using System.Collections.Generic;
using System.Linq;
using Docker.DotNet.Models;
using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>The comparison that decides Unchanged/Updated and prints the -WhatIf diff; content-versioned names.</summary>
    public class SpecDiffTests
    {
        private static ServiceSpec Spec(Action<ServiceSpec> change = null)
        {
            var s = new ServiceSpec
            {
                Name = "app_web",
                Labels = new Dictionary<string, string> { ["com.docker.stack.namespace"] = "app" },
                TaskTemplate = new TaskSpec
                {
                    ContainerSpec = new ContainerSpec { Image = "lab/busybox:1", Env = new List<string> { "A=1", "DB_PASSWORD=hunter2" } },
                    Placement = new Placement(),
                    Resources = new ResourceRequirements(),
                },
                EndpointSpec = new EndpointSpec(),
                Mode = new ServiceMode { Replicated = new ReplicatedService() },
            };
            change?.Invoke(s);
            return s;
        }

        [Fact]
        public void Equal_specs_have_no_changes()
        {
            Assert.Empty(SpecDiff.Compare(Spec(), Spec()));
        }

        [Fact]
        public void Values_the_engine_fills_in_count_as_not_set()
        {
            var live = Spec(s =>
            {
                s.TaskTemplate.Runtime = "container";
                s.TaskTemplate.ForceUpdate = 0;
                s.TaskTemplate.ContainerSpec.Isolation = "default";
                s.EndpointSpec.Mode = "vip";
                s.Mode.Replicated.Replicas = 1;
                s.TaskTemplate.RestartPolicy = new SwarmRestartPolicy { MaxAttempts = 0, Delay = TimeSpan.FromSeconds(5), Window = TimeSpan.Zero };
                s.TaskTemplate.ContainerSpec.Mounts = new List<Mount>();   // empty lists are not kept
                s.UpdateConfig = new SwarmUpdateConfig { Parallelism = 1, FailureAction = "pause", Order = "stop-first" };
            });
            var desired = Spec(s => { s.TaskTemplate.RestartPolicy = new SwarmRestartPolicy(); s.UpdateConfig = new SwarmUpdateConfig { Parallelism = 1 }; });
            Assert.Empty(SpecDiff.Compare(live, desired));
        }

        [Fact]
        public void A_scaled_service_is_reset_to_the_file_value_and_the_change_says_so()
        {
            var live = Spec(s => s.Mode.Replicated.Replicas = 5);
            var change = Assert.Single(SpecDiff.Compare(live, Spec()));
            Assert.Equal("Mode.Replicated.Replicas", change.Path);
            Assert.Equal("Mode.Replicated.Replicas: - 5", change.ToString());
        }

        [Fact]
        public void A_list_change_is_one_change_and_secret_looking_values_are_masked()
        {
            var desired = Spec(s => s.TaskTemplate.ContainerSpec.Env = new List<string> { "A=2", "DB_PASSWORD=hunter3" });
            var change = Assert.Single(SpecDiff.Compare(Spec(), desired));
            Assert.Equal("TaskTemplate.ContainerSpec.Env", change.Path);
            Assert.Equal("[A=1, DB_PASSWORD=***]", change.Live);
            Assert.Equal("[A=2, DB_PASSWORD=***]", change.Desired);
            Assert.DoesNotContain("hunter", change.ToString());
        }

        [Fact]
        public void A_masked_value_still_counts_as_a_change()
        {
            var desired = Spec(s => s.TaskTemplate.ContainerSpec.Env = new List<string> { "A=1", "DB_PASSWORD=other" });
            Assert.Single(SpecDiff.Compare(Spec(), desired));
        }

        [Fact]
        public void A_new_secret_version_shows_the_name_not_the_id()
        {
            SecretReference Ref(string name, string id) => new SecretReference { SecretName = name, SecretID = id, File = new SecretReferenceFileTarget { Name = "token", UID = "0", GID = "0", Mode = 292 } };
            var live = Spec(s => s.TaskTemplate.ContainerSpec.Secrets = new List<SecretReference> { Ref("app_token-0123456789", "id1") });
            var desired = Spec(s => s.TaskTemplate.ContainerSpec.Secrets = new List<SecretReference> { Ref("app_token-9876543210", "id2") });
            var change = Assert.Single(SpecDiff.Compare(live, desired));
            Assert.Equal("TaskTemplate.ContainerSpec.Secrets[0].SecretName", change.Path);
            // the same name with another ID (secret re-created outside the stack) is still a change
            var sameName = Spec(s => s.TaskTemplate.ContainerSpec.Secrets = new List<SecretReference> { Ref("app_token-0123456789", "id3") });
            Assert.Equal("TaskTemplate.ContainerSpec.Secrets[0].SecretID", Assert.Single(SpecDiff.Compare(live, sameName)).Path);
        }

        [Fact]
        public void Labels_with_dots_are_paths_and_a_summary_names_the_fields()
        {
            var desired = Spec(s => { s.Labels["com.example.team"] = "shop"; s.TaskTemplate.ContainerSpec.Image = "lab/busybox:2"; });
            var changes = SpecDiff.Compare(Spec(), desired);
            Assert.Equal(new[] { "Labels.com.example.team", "TaskTemplate.ContainerSpec.Image" }, changes.Select(c => c.Path));
            Assert.Equal("Labels, Image", SpecDiff.Summarize(changes));
        }

        [Fact]
        public void An_empty_label_value_is_a_value_but_an_empty_field_is_not_set()
        {
            var withFlag = Spec(s => s.Labels["com.example.flag"] = "");
            Assert.Equal("Labels.com.example.flag", Assert.Single(SpecDiff.Compare(Spec(), withFlag)).Path);
            Assert.Empty(SpecDiff.Compare(Spec(), Spec(s => s.TaskTemplate.ContainerSpec.Hostname = "")));
        }

        [Theory]
        [InlineData("DB_PASSWORD", true)]
        [InlineData("PASSWORD", true)]
        [InlineData("API_KEY", true)]
        [InlineData("GITHUB_TOKEN", true)]
        [InlineData("AWS_SECRET_ACCESS_KEY", true)]
        [InlineData("db.password", true)]
        [InlineData("DBPASSWORD", true)]
        [InlineData("ApiToken", true)]
        [InlineData("SECRETKEY", true)]
        [InlineData("apiKey", true)]
        [InlineData("SMTP_PASS", true)]
        [InlineData("DB_PASSWORD_FILE", false)]
        [InlineData("KEYBOARD_LAYOUT", false)]
        [InlineData("MONKEY", false)]
        [InlineData("STAGE", false)]
        public void Secret_looking_keys(string key, bool expected) => Assert.Equal(expected, SpecDiff.IsSecretLikeKey(key));

        [Fact]
        public void Versioned_names_follow_the_content_and_the_swarm()
        {
            byte[] a = System.Text.Encoding.UTF8.GetBytes("one"), b = System.Text.Encoding.UTF8.GetBytes("two");
            string n1 = StackObjectVersions.VersionedName("app_token", "swarmadmin:cluster1", a);
            Assert.Matches("^app_token-[0-9a-f]{10}$", n1);
            Assert.Equal(n1, StackObjectVersions.VersionedName("app_token", "swarmadmin:cluster1", a));
            Assert.NotEqual(n1, StackObjectVersions.VersionedName("app_token", "swarmadmin:cluster1", b));
            // keyed with the cluster ID: the same content in another swarm has another name (no plain content hash)
            Assert.NotEqual(n1, StackObjectVersions.VersionedName("app_token", "swarmadmin:cluster2", a));
            Assert.Null(StackObjectVersions.VersionedName(new string('s', 54), "k", a));
            Assert.Equal(64, StackObjectVersions.VersionedName(new string('s', 53), "k", a).Length);
        }
    }
}
