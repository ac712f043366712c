using System;
using System.Threading;
using System.Threading.Tasks;

namespace SwarmAdmin.Infrastructure
{
    /// <summary>
    /// Runs work that blocks (a synchronous read of an SSH channel waits for the peer) on a thread of its own instead of
    /// a thread-pool thread: blocked pool threads make every other continuation of the process wait until the pool
    /// grows, about one thread per half second (seen as seconds-long stalls when several nodes are worked on at once).
    /// </summary>
    internal static class DedicatedThread
    {
        public static Task Run(Action work, CancellationToken ct = default(CancellationToken))
            => Task.Factory.StartNew(work, ct, TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);

        public static Task<T> Run<T>(Func<T> work, CancellationToken ct = default(CancellationToken))
            => Task.Factory.StartNew(work, ct, TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
    }
}
