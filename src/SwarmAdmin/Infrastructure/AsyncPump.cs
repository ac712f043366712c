using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace SwarmAdmin.Infrastructure
{
    /// <summary>
    /// Runs an async method on the calling (pipeline) thread: every await without ConfigureAwait(false)
    /// resumes here, so cmdlet code may call WriteObject/WriteError/WriteProgress after any await.
    /// </summary>
    internal static class AsyncPump
    {
        public static void Run(Func<Task> func, Action onIdle = null)
        {
            SynchronizationContext previous = SynchronizationContext.Current;
            var context = new PumpContext();
            SynchronizationContext.SetSynchronizationContext(context);
            try
            {
                Task task = func();
                task.ContinueWith(_ => context.Complete(), TaskScheduler.Default);
                context.RunOnCurrentThread(onIdle);
                task.GetAwaiter().GetResult();
            }
            finally
            {
                SynchronizationContext.SetSynchronizationContext(previous);
            }
        }

        private sealed class PumpContext : SynchronizationContext
        {
            private readonly BlockingCollection<(SendOrPostCallback, object)> _queue = new BlockingCollection<(SendOrPostCallback, object)>();

            public override void Post(SendOrPostCallback d, object state)
            {
                try { _queue.Add((d, state)); }
                catch (InvalidOperationException) { ThreadPool.QueueUserWorkItem(_ => d(state)); } // completed: run elsewhere
            }

            public override void Send(SendOrPostCallback d, object state) => throw new NotSupportedException("Synchronous send is not supported.");

            public override SynchronizationContext CreateCopy() => this;

            public void RunOnCurrentThread(Action onIdle)
            {
                while (true)
                {
                    if (!_queue.TryTake(out var item, 50))
                    {
                        if (_queue.IsCompleted) return;
                        onIdle?.Invoke();
                        continue;
                    }
                    item.Item1(item.Item2);
                    onIdle?.Invoke();
                }
            }

            public void Complete() => _queue.CompleteAdding();
        }
    }
}
