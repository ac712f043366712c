using System.Diagnostics;

namespace ProxmoxSimulator;

/// <summary>
/// The single simulated clock. Simulated time advances at 1/TimeScale of real time: a simulated
/// duration of d seconds takes d × TimeScale real seconds. Changing the scale keeps the clock continuous.
/// </summary>
public sealed class SimClock
{
    private readonly object _sync = new();
    private readonly Stopwatch _sw = Stopwatch.StartNew();
    private readonly long _unixAtStart = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private double _simBase;
    private double _realBase;
    private double _scale;

    public SimClock(double scale) => _scale = Clamp(scale);

    private static double Clamp(double s) => double.IsFinite(s) && s > 0 ? Math.Max(s, 1e-4) : 1.0;

    public double Scale { get { lock (_sync) return _scale; } }

    public void SetScale(double scale)
    {
        lock (_sync)
        {
            double real = _sw.Elapsed.TotalSeconds;
            _simBase += (real - _realBase) / _scale;
            _realBase = real;
            _scale = Clamp(scale);
        }
    }

    /// <summary>Simulated seconds since start.</summary>
    public double Now
    {
        get { lock (_sync) return _simBase + (_sw.Elapsed.TotalSeconds - _realBase) / _scale; }
    }

    /// <summary>Simulated unix time (seconds).</summary>
    public long UnixNow => _unixAtStart + (long)Math.Floor(Now);

    /// <summary>Real duration of a simulated interval at the current scale.</summary>
    public TimeSpan Real(double simSeconds) => TimeSpan.FromSeconds(Math.Max(0, simSeconds) * Scale);

    /// <summary>Wait until the simulated clock has advanced by simSeconds (reacts to scale changes).</summary>
    public Task DelayAsync(double simSeconds, CancellationToken ct = default) => DelayUntilAsync(Now + simSeconds, ct);

    public async Task DelayUntilAsync(double simTarget, CancellationToken ct = default)
    {
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            double remainingReal = (simTarget - Now) * Scale;
            if (remainingReal <= 0) return;
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(remainingReal, 0.25)), ct).ConfigureAwait(false);
        }
    }
}
