using System;
using System.Threading;
using System.Threading.Tasks;

namespace SwarmAdmin.Proxmox
{
    internal sealed class ProxmoxRetryOptions
    {
        /// <summary>Total attempts, the first included (default 5).</summary>
        public int Attempts { get; set; } = 5;

        /// <summary>Delay before the second attempt; doubled after each failure (default 1 s).</summary>
        public TimeSpan InitialDelay { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Upper bound of one delay (default 15 s).</summary>
        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(15);

        /// <summary>Called before each wait: the error, the attempt that failed (1-based), the delay.</summary>
        public Action<Exception, int, TimeSpan> OnRetry { get; set; }

        /// <summary>The wait itself (tests replace it).</summary>
        internal Func<TimeSpan, CancellationToken, Task> Delay { get; set; } = Task.Delay;
    }

    /// <summary>
    /// Explicit retry of transient VM lock conflicts (reference §4.1): <c>can't lock file '…' - got timeout</c>
    /// (the flock is held by a clone, shutdown, …), <c>VM is locked (clone|create|migrate|backup|…)</c> (the config
    /// <c>lock</c> property) and the cluster-filesystem variant <c>cfs-lock '…' error: got lock request timeout</c>.
    /// <c>VM is locked (destroyed)</c> is final and never retried. Wrap only operations that are safe to repeat.
    /// </summary>
    internal static class ProxmoxRetry
    {
        public static bool IsLockMessage(string message)
        {
            if (string.IsNullOrEmpty(message)) return false;
            if (message.IndexOf("can't lock file", StringComparison.OrdinalIgnoreCase) >= 0
                && message.IndexOf("got timeout", StringComparison.OrdinalIgnoreCase) >= 0) return true;
            if (message.IndexOf("cfs-lock", StringComparison.OrdinalIgnoreCase) >= 0
                && message.IndexOf("timeout", StringComparison.OrdinalIgnoreCase) >= 0) return true;
            int i = message.IndexOf("VM is locked (", StringComparison.Ordinal);
            if (i >= 0)
            {
                return message.IndexOf("VM is locked (destroyed)", StringComparison.Ordinal) < 0;
            }
            return false;
        }

        /// <summary>Whether <paramref name="error"/> is a lock conflict worth retrying (an API error or a failed task).</summary>
        public static bool IsLockError(Exception error)
        {
            switch (error)
            {
                case ProxmoxApiException api: return api.IsLockError;
                case ProxmoxTaskFailedException task: return task.IsLockError;
                default: return false;
            }
        }

        public static async Task<T> RetryOnLockAsync<T>(Func<Task<T>> action, ProxmoxRetryOptions options = null, CancellationToken cancellationToken = default)
        {
            if (action == null) throw new ArgumentNullException(nameof(action));
            options = options ?? new ProxmoxRetryOptions();
            int attempts = Math.Max(1, options.Attempts);
            TimeSpan delay = options.InitialDelay < TimeSpan.Zero ? TimeSpan.Zero : options.InitialDelay;
            for (int attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    return await action().ConfigureAwait(false);
                }
                catch (Exception ex) when (attempt < attempts && IsLockError(ex))
                {
                    TimeSpan wait = delay > options.MaxDelay ? options.MaxDelay : delay;
                    options.OnRetry?.Invoke(ex, attempt, wait);
                    await options.Delay(wait, cancellationToken).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxDelay.Ticks));
                }
            }
        }

        public static Task RetryOnLockAsync(Func<Task> action, ProxmoxRetryOptions options = null, CancellationToken cancellationToken = default)
        {
            if (action == null) throw new ArgumentNullException(nameof(action));
            return RetryOnLockAsync<bool>(async () => { await action().ConfigureAwait(false); return true; }, options, cancellationToken);
        }

        /// <summary>Shorthand with just the number of attempts.</summary>
        public static Task<T> RetryOnLockAsync<T>(Func<Task<T>> action, int attempts, CancellationToken cancellationToken = default) =>
            RetryOnLockAsync(action, new ProxmoxRetryOptions { Attempts = attempts }, cancellationToken);
    }
}
