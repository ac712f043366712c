using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Stacks
{
    /// <summary>
    /// The compose loader of Deploy-SwarmStack: what docker stack deploy does client-side before any API call
    /// (docker/cli cli/command/stack/loader.go + cli/compose/loader), as typed C#.
    /// <para>Order, per file: YAML (with anchors and merge keys) → version → forbidden keys → interpolation of every
    /// value → typed walk with the 3.x schema of the file's version (unknown keys with suggestions, types, per-version
    /// keys) → env_file/environment resolution and bind/secret/config path absolutisation. Then the files are merged
    /// left to right (<see cref="ComposeMerge"/>) and the merged model is checked (image present and valid, every
    /// referenced network/volume/secret/config declared, replicas vs mode, healthcheck test vs disable).</para>
    /// <para>Variables: <paramref name="environment"/> (the process environment) WINS over the .env file, as in docker
    /// compose ("values in the shell take precedence over those specified in the .env file"). docker stack deploy
    /// itself reads no .env at all (reference 1.2 step 4, 3.1); reading one is SwarmAdmin's opt-in -EnvFile extension,
    /// and when it is picked up implicitly a warning says so. The same combined lookup fills bare/empty
    /// environment keys and bare KEY lines of env_file files (the CLI uses the process environment for both).</para>
    /// <para>Relative paths (env_file, secrets/configs file:, bind sources) of EVERY file resolve against the folder
    /// of the FIRST file, like the CLI's ConfigDetails.WorkingDir (reference 1.2 step 1).</para>
    /// </summary>
    internal static class ComposeLoader
    {
        /// <summary>Loads, validates and merges <paramref name="paths"/>. Throws <see cref="ComposeFileException"/>
        /// (its Errors list holds every problem found); appends warnings (ignored keys, compatibility notes) to
        /// <paramref name="warnings"/>.</summary>
        /// <param name="envFilePath">A .env file for interpolation; null = ".env" beside the first file when it exists.</param>
        /// <param name="environment">Variable lookup (the process environment); null = none.</param>
        internal static ComposeProject Load(IReadOnlyList<string> paths, string envFilePath, Func<string, (bool, string)> environment, List<ComposeWarning> warnings)
        {
            if (paths == null || paths.Count == 0) throw new ArgumentException("specify a Compose file (with --compose-file)", nameof(paths));
            warnings = warnings ?? new List<ComposeWarning>();
            environment = environment ?? (_ => (false, null));
            var errors = new List<ComposeFileException>();

            string first = Path.GetFullPath(paths[0]);
            string workingDir = Path.GetDirectoryName(first);
            var project = new ComposeProject { WorkingDirectory = workingDir };

            // .env: the shell environment wins; .env values fill the gaps
            Func<string, (bool Found, string Value)> lookup = name => environment(name);
            bool implicitEnv = envFilePath == null;
            string envPath = envFilePath != null ? Path.GetFullPath(envFilePath) : Path.Combine(workingDir, ".env");
            if (File.Exists(envPath))
            {
                List<KeyValuePair<string, string>> pairs;
                try
                {
                    pairs = ComposeEnvFile.ParseDotEnv(File.ReadAllText(envPath), envPath, n => environment(n));
                }
                catch (Exception ex) when (ex is ComposeEnvFileException || ex is ComposeInterpolationException || ex is IOException || ex is UnauthorizedAccessException)
                {
                    int line = ex is ComposeEnvFileException ee && ee.Line > 0 ? ee.Line : 1;
                    throw Fail(new List<ComposeFileException> { new ComposeFileException(envFilePath ?? envPath, line, 1, string.Empty, ex.Message, ex) });
                }
                var dotenv = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var kv in pairs) dotenv[kv.Key] = kv.Value;
                lookup = name =>
                {
                    var (found, value) = environment(name);
                    if (found) return (true, value);
                    return dotenv.TryGetValue(name, out string v) ? (true, v) : (false, null);
                };
                project.EnvFile = envPath;
                if (implicitEnv)
                    warnings.Add(new ComposeWarning(envPath, 1, 1, string.Empty,
                        $"variables from {envPath} are used for interpolation (the shell environment wins); docker stack deploy itself ignores .env files"));
            }
            else if (!implicitEnv)
            {
                throw Fail(new List<ComposeFileException> { new ComposeFileException(envFilePath, 1, 1, string.Empty, $"env file {envFilePath} not found") });
            }

            var parts = new List<(ComposeProject Project, ComposeFileReader Reader, string File)>();
            foreach (string given in paths)
            {
                string full = Path.GetFullPath(given);
                project.Files.Add(full);
                string text;
                try { text = File.ReadAllText(full); }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    string why = ex is FileNotFoundException || ex is DirectoryNotFoundException ? $"compose file {given} not found" : $"cannot read compose file {given}: {ex.Message}";
                    errors.Add(new ComposeFileException(given, 1, 1, string.Empty, why, ex));
                    continue;
                }
                var reader = new ComposeFileReader(given, workingDir, lookup, errors, warnings);
                ComposeProject part = reader.Read(text);
                if (part == null) continue;
                if (project.Version == null) project.Version = reader.Version;
                else if (reader.Version != project.Version)
                {
                    var at = reader.VersionNode?.Start;
                    errors.Add(new ComposeFileException(given, Math.Max(1, (int)(at?.Line ?? 1)), Math.Max(1, (int)(at?.Column ?? 1)), "version",
                        $"version mismatched between two composefiles : {project.Version} and {reader.Version}") { Suggestion = $"Use version \"{project.Version}\" in every file (a missing version counts as 3.13)." });
                }
                parts.Add((part, reader, given));
            }
            if (errors.Count > 0) throw Fail(errors);

            ComposeProject merged = parts[0].Project;
            for (int i = 1; i < parts.Count; i++) ComposeMerge.Merge(merged, parts[i].Project, warnings);
            project.Version = merged.Version;
            foreach (var kv in merged.Services) project.Services[kv.Key] = kv.Value;
            foreach (var kv in merged.Networks) project.Networks[kv.Key] = kv.Value;
            foreach (var kv in merged.Volumes) project.Volumes[kv.Key] = kv.Value;
            foreach (var kv in merged.Secrets) project.Secrets[kv.Key] = kv.Value;
            foreach (var kv in merged.Configs) project.Configs[kv.Key] = kv.Value;

            Validate(project, errors);
            if (errors.Count > 0) throw Fail(errors);
            return project;
        }

        private static ComposeFileException Fail(List<ComposeFileException> errors)
        {
            var files = errors.Select(e => e.File).Distinct().ToList();
            var sorted = errors.OrderBy(e => files.IndexOf(e.File)).ThenBy(e => e.Line).ThenBy(e => e.Column).ToList();
            ComposeFileException head = sorted[0];
            head.Errors = sorted;
            return head;
        }

        // distribution/reference grammar (docker/cli parses every image with reference.ParseNormalizedNamed)
        private const string Component = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
        private const string DomainPart = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        private static readonly Regex ImageReference = new Regex(
            "^(?:(?:" + DomainPart + "(?:\\." + DomainPart + ")*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?/)?" + Component + "(?:/" + Component + ")*" +
            "(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$", RegexOptions.CultureInvariant);

        /// <summary>Why <paramref name="image"/> is not a valid reference, or null.</summary>
        internal static string CheckImage(string image)
        {
            if (string.IsNullOrEmpty(image)) return "no image specified";
            if (ImageReference.IsMatch(image)) return null;
            if (ImageReference.IsMatch(image.ToLowerInvariant())) return "invalid reference format: repository name must be lowercase";
            return "invalid reference format";
        }

        private static void Validate(ComposeProject p, List<ComposeFileException> errors)
        {
            void Add(ComposeService s, string key, string path, string reason, string suggestion = null)
            {
                ComposeSource at = key != null && s.Positions.TryGetValue(key, out var pos) ? pos : s.Source;
                errors.Add(new ComposeFileException(at.File, at.Line, at.Column, path, reason) { Suggestion = suggestion });
            }
            void AddAt(ComposeSource at, string path, string reason) => errors.Add(new ComposeFileException(at.File, at.Line, at.Column, path, reason));

            foreach (ComposeService s in p.Services.Values)
            {
                string sp = "services." + s.Name;
                string imageProblem = CheckImage(s.Image);
                if (imageProblem != null) Add(s, "image", sp + ".image", $"invalid image reference for service {s.Name}: {imageProblem}", s.Image == null ? "Add image: <name>:<tag> (docker stack deploy never builds images)." : null);

                string mode = s.Deploy.Mode ?? "replicated";
                if (s.Deploy.Replicas != null && (mode == "global" || mode == "global-job"))
                    Add(s, s.Positions.ContainsKey("deploy.replicas") ? "deploy.replicas" : "deploy", sp + ".deploy.replicas", "replicas can only be used with replicated or replicated-job mode");
                if (s.HealthCheck != null && s.HealthCheck.Disable && s.HealthCheck.Test != null && s.HealthCheck.Test.Count > 0)
                    Add(s, "healthcheck", sp + ".healthcheck", "test and disable can't be set at the same time");

                if (s.Networks != null)
                    foreach (string n in s.Networks.Keys)
                        if (n != "default" && !p.Networks.ContainsKey(n))
                            Add(s, "networks", sp + ".networks", $"undefined network \"{n}\"", Suggestion(n, p.Networks.Keys, "networks"));
                foreach (ComposeServiceVolume v in s.Volumes)
                    if (v.Type == "volume" && !string.IsNullOrEmpty(v.Source) && !p.Volumes.ContainsKey(v.Source))
                        AddAt(v.Position ?? s.Source, sp + ".volumes", $"undefined volume \"{v.Source}\"" + (Suggestion(v.Source, p.Volumes.Keys, "volumes") is string hint ? " " + hint : " (declare it under the top-level volumes:)"));
                CheckRefs(s, s.Secrets, p.Secrets.Keys, "secret", sp, errors);
                CheckRefs(s, s.Configs, p.Configs.Keys, "config", sp, errors);
                if (s.CredentialSpec?.Config != null && !p.Configs.ContainsKey(s.CredentialSpec.Config))
                    Add(s, "credential_spec", sp + ".credential_spec.config", $"invalid credential spec: spec specifies config {s.CredentialSpec.Config}, but no such config can be found");
            }
            foreach (ComposeSecret sec in p.Secrets.Values)
                if (!sec.External && string.IsNullOrEmpty(sec.Driver) && string.IsNullOrEmpty(sec.File))
                    AddAt(sec.Source, "secrets." + sec.Key, $"secret {sec.Key} needs file:, driver: or external: true");
            foreach (ComposeConfig cfg in p.Configs.Values)
                if (!cfg.External && string.IsNullOrEmpty(cfg.File))
                    AddAt(cfg.Source, "configs." + cfg.Key, $"config {cfg.Key} needs file: or external: true");
        }

        private static void CheckRefs(ComposeService s, List<ComposeFileReference> refs, IEnumerable<string> declared, string what, string sp, List<ComposeFileException> errors)
        {
            var keys = declared.ToList();
            var targets = new Dictionary<string, ComposeFileReference>(StringComparer.Ordinal);
            foreach (ComposeFileReference r in refs)
            {
                ComposeSource at = r.Position ?? s.Source;
                if (!keys.Contains(r.Source))
                {
                    string hint = Suggestion(r.Source, keys, what + "s");
                    errors.Add(new ComposeFileException(at.File, at.Line, at.Column, $"{sp}.{what}s", $"undefined {what} \"{r.Source}\"" + (hint == null ? $" (declare it under the top-level {what}s:)" : " " + hint)));
                    continue;
                }
                string target = string.IsNullOrEmpty(r.Target) ? r.Source : r.Target;
                if (what == "secret" && targets.ContainsKey(target))
                    errors.Add(new ComposeFileException(at.File, at.Line, at.Column, $"{sp}.{what}s", $"duplicate secret target for {r.Source} not allowed"));
                targets[target] = r;
            }
        }

        private static string Suggestion(string name, IEnumerable<string> declared, string section)
        {
            string s = ComposeYaml.Suggest(name, declared);
            return s == null ? null : $"(did you mean '{s}' from the top-level {section}:?)";
        }
    }
}
