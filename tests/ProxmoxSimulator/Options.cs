using System.Globalization;

namespace ProxmoxSimulator;

/// <summary>Default simulated durations (seconds, before TimeScale). §5.4 of the reference.</summary>
public sealed class Durations
{
    public double LinkedClone { get; set; } = 2;
    public double FullCloneBase { get; set; } = 5;
    public double FullClonePerGiB { get; set; } = 2;
    public double Config { get; set; } = 0.3;
    public double Resize { get; set; } = 0.5;
    public double Start { get; set; } = 1.5;
    public double Stop { get; set; } = 1;
    public double AcpiShutdown { get; set; } = 8;
    public double Destroy { get; set; } = 1.5;
    public double AgentDelay { get; set; } = 20;
    public double NetDelay { get; set; } = 5;
    public double RrdRefresh { get; set; } = 10;
    public double AuthFailDelay { get; set; } = 3;
}

/// <summary>Runtime settings (changeable through POST /_sim/config).</summary>
public sealed class Settings
{
    public string Version { get; set; } = "8.2.4";
    public string Release { get; set; } = "8.2";
    public string RepoId { get; set; } = "faa83925";
    public bool LegacyErrorBody { get; set; }
    public bool LegacySyncResize { get; set; }
    /// <summary>Real seconds a task stays "running" at least (so clients see one running poll).</summary>
    public double MinRunningRealSeconds { get; set; } = 0.1;
    public string DhcpPrefix { get; set; } = "10.99";
    public Durations Durations { get; set; } = new();

    public int Major => int.TryParse(Version.Split('.')[0], out var m) ? m : 8;
    public bool MemoryAsString => Major > 8 || (Major == 8 && !Version.StartsWith("8.0"));
    public string[] AgentPrivs => Major >= 9 ? new[] { "VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted" } : new[] { "VM.Monitor" };

    public Settings Clone() => System.Text.Json.JsonSerializer.Deserialize<Settings>(System.Text.Json.JsonSerializer.Serialize(this, Json.StateOptions), Json.StateOptions);
}

public sealed class SimOptions
{
    public int Port;
    public string Listen = "127.0.0.1";
    public string StateFile;
    public string ReadyFile;
    public double TimeScale = 1.0;
    public string Password = "simpass";
    public string OnStart, OnStop;
    public string AdminSecret, ReadonlySecret;
    public int Seed = 1;
    public int HookTimeoutSeconds = 120;
    public string EntryNode = "pve01";
    public bool Verbose;
    public Settings Settings = new();

    public static SimOptions Parse(string[] args)
    {
        var o = new SimOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"missing value for {a}");
            double D() => double.Parse(Next(), CultureInfo.InvariantCulture);
            switch (a)
            {
                case "--port": o.Port = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--listen": o.Listen = Next(); break;
                case "--state-file": o.StateFile = Next(); break;
                case "--ready-file": o.ReadyFile = Next(); break;
                case "--time-scale": o.TimeScale = D(); break;
                case "--password": o.Password = Next(); break;
                case "--on-start": o.OnStart = Next(); break;
                case "--on-stop": o.OnStop = Next(); break;
                case "--admin-secret": o.AdminSecret = Next(); break;
                case "--readonly-secret": o.ReadonlySecret = Next(); break;
                case "--seed": o.Seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--hook-timeout": o.HookTimeoutSeconds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--entry-node": o.EntryNode = Next(); break;
                case "--pve-version":
                    o.Settings.Version = Next();
                    o.Settings.Release = string.Join('.', o.Settings.Version.Split('.').Take(2));
                    break;
                case "--legacy-error-body": o.Settings.LegacyErrorBody = true; break;
                case "--legacy-sync-resize": o.Settings.LegacySyncResize = true; break;
                case "--min-running": o.Settings.MinRunningRealSeconds = D(); break;
                case "--agent-delay": o.Settings.Durations.AgentDelay = D(); break;
                case "--net-delay": o.Settings.Durations.NetDelay = D(); break;
                case "--auth-delay": o.Settings.Durations.AuthFailDelay = D(); break;
                case "--verbose": o.Verbose = true; break;
                case "-h":
                case "--help":
                    Console.Error.WriteLine(Usage);
                    Environment.Exit(0);
                    break;
                default: throw new ArgumentException($"unknown option {a}\n{Usage}");
            }
        }
        return o;
    }

    public const string Usage =
        "ProxmoxSimulator --port N [--listen 127.0.0.1] [--state-file s.json] [--ready-file r.json] [--time-scale 1.0]\n" +
        "  [--password simpass] [--on-start CMD] [--on-stop CMD] [--admin-secret UUID] [--readonly-secret UUID] [--seed 1]\n" +
        "  [--pve-version 8.2.4] [--legacy-error-body] [--legacy-sync-resize] [--min-running 0.1] [--agent-delay 20]\n" +
        "  [--net-delay 5] [--auth-delay 3] [--hook-timeout 120] [--entry-node pve01] [--verbose]";
}
