using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Infrastructure;

namespace SwarmAdmin.Secrets
{
    /// <summary>
    /// The differences between secrets and configs for the shared *-SwarmSecret / *-SwarmConfig implementation:
    /// the API calls, the field names of service references, the error ids and the output type.
    /// </summary>
    internal abstract class SwarmObjectKind
    {
        public static readonly SwarmObjectKind Secret = new SecretKind();
        public static readonly SwarmObjectKind Config = new ConfigKind();

        /// <summary>"secret" or "config" (messages, labels, API paths).</summary>
        public abstract string Kind { get; }
        /// <summary>"Secret" or "Config" (cmdlet nouns, JSON field names).</summary>
        public abstract string Noun { get; }
        public string ReferenceArray => Noun + "s";
        public string ReferenceId => Noun + "ID";
        public string ReferenceName => Noun + "Name";

        public bool IsSecret => this is SecretKind;
        public string ExistsId => IsSecret ? SwarmErrorId.SecretExists : SwarmErrorId.ConfigExists;
        public string NotFoundId => IsSecret ? SwarmErrorId.SecretNotFound : SwarmErrorId.ConfigNotFound;
        public string InUseId => IsSecret ? SwarmErrorId.SecretInUse : SwarmErrorId.ConfigInUse;
        public string FileId => IsSecret ? SwarmErrorId.SecretFileUnreadable : SwarmErrorId.ConfigFileUnreadable;
        public string RotationFailedId => IsSecret ? SwarmErrorId.SecretRotationFailed : SwarmErrorId.ConfigRotationFailed;

        public abstract Task<IList<StoredObject>> ListAsync(DockerClient client, CancellationToken ct);
        public abstract Task<string> CreateAsync(DockerClient client, string name, IDictionary<string, string> labels, byte[] data, CancellationToken ct);
        public abstract Task DeleteAsync(DockerClient client, string id, CancellationToken ct);
        public abstract IEnumerable<ObjectReference> References(Docker.DotNet.Models.SwarmService service);
        public abstract SwarmStoredObject NewModel();

        private static Dictionary<string, string> Labels(IDictionary<string, string> l) => new Dictionary<string, string>(l ?? new Dictionary<string, string>(), StringComparer.Ordinal);

        private sealed class SecretKind : SwarmObjectKind
        {
            public override string Kind => "secret";
            public override string Noun => "Secret";

            public override async Task<IList<StoredObject>> ListAsync(DockerClient client, CancellationToken ct)
                => (await client.Secrets.ListAsync(ct).ConfigureAwait(false)).Select(s => new StoredObject
                {
                    Id = s.ID, Name = s.Spec?.Name, Labels = Labels(s.Spec?.Labels), CreatedAt = s.CreatedAt, UpdatedAt = s.UpdatedAt,
                }).ToList();

            public override async Task<string> CreateAsync(DockerClient client, string name, IDictionary<string, string> labels, byte[] data, CancellationToken ct)
                => (await client.Secrets.CreateAsync(new SwarmSecretSpec { Name = name, Labels = labels, Data = data }, ct).ConfigureAwait(false)).ID;

            public override Task DeleteAsync(DockerClient client, string id, CancellationToken ct) => client.Secrets.DeleteAsync(id, ct);

            public override IEnumerable<ObjectReference> References(Docker.DotNet.Models.SwarmService service)
                => (service.Spec?.TaskTemplate?.ContainerSpec?.Secrets ?? new List<SecretReference>()).Select(r => new ObjectReference(r.SecretID, r.SecretName));

            public override SwarmStoredObject NewModel() => new SwarmSecret();
        }

        private sealed class ConfigKind : SwarmObjectKind
        {
            public override string Kind => "config";
            public override string Noun => "Config";

            public override async Task<IList<StoredObject>> ListAsync(DockerClient client, CancellationToken ct)
                => (await client.Configs.ListConfigsAsync(ct).ConfigureAwait(false)).Select(s => new StoredObject
                {
                    Id = s.ID, Name = s.Spec?.Name, Labels = Labels(s.Spec?.Labels), CreatedAt = s.CreatedAt, UpdatedAt = s.UpdatedAt,
                }).ToList();

            public override async Task<string> CreateAsync(DockerClient client, string name, IDictionary<string, string> labels, byte[] data, CancellationToken ct)
                => (await client.Configs.CreateConfigAsync(new SwarmCreateConfigParameters { Config = new SwarmConfigSpec { Name = name, Labels = labels, Data = data } }, ct).ConfigureAwait(false)).ID;

            public override Task DeleteAsync(DockerClient client, string id, CancellationToken ct) => client.Configs.RemoveConfigAsync(id, ct);

            public override IEnumerable<ObjectReference> References(Docker.DotNet.Models.SwarmService service)
                => (service.Spec?.TaskTemplate?.ContainerSpec?.Configs ?? new List<SwarmConfigReference>()).Select(r => new ObjectReference(r.ConfigID, r.ConfigName));

            public override SwarmStoredObject NewModel() => new SwarmConfig();
        }
    }
}
