using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Base of every SwarmAdmin cmdlet: runs async work on the pipeline thread (AsyncPump), cancels every remote
    /// call on Ctrl+C (StopProcessing), turns exceptions into ErrorRecords with stable ids, and writes messages
    /// that other threads produce only from the pipeline thread.
    /// </summary>
    public abstract class SwarmCmdlet : PSCmdlet, IOperationLog
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly ConcurrentQueue<(int Kind, string Text)> _messages = new ConcurrentQueue<(int, string)>();
        private int _pipelineThread;

        /// <summary>Cancelled when the user presses Ctrl+C or the pipeline stops.</summary>
        protected CancellationToken StopToken => _stop.Token;

        protected override void StopProcessing()
        {
            try { _stop.Cancel(); } catch (ObjectDisposedException) { }
        }

        protected sealed override void BeginProcessing() => Run(BeginProcessingAsync, null);
        protected sealed override void ProcessRecord() => Run(ProcessRecordAsync, CurrentTarget);
        protected sealed override void EndProcessing()
        {
            try { Run(EndProcessingAsync, null); }
            finally { _stop.Dispose(); }
        }

        protected virtual Task BeginProcessingAsync() => Task.CompletedTask;
        protected virtual Task ProcessRecordAsync() => Task.CompletedTask;
        protected virtual Task EndProcessingAsync() => Task.CompletedTask;

        /// <summary>The object an unexpected error is reported against (the current pipeline item).</summary>
        protected virtual object CurrentTarget => null;

        private void Run(Func<Task> body, object target)
        {
            _pipelineThread = Thread.CurrentThread.ManagedThreadId;
            try
            {
                AsyncPump.Run(body, DrainMessages);
            }
            catch (PipelineStoppedException) { throw; }
            catch (TerminatingErrorException te)
            {
                DrainMessages();
                ThrowTerminatingError(te.Record);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException) && !(ex is ActionPreferenceStopException))
            {
                if (SwarmErrors.Unwrap(ex) is PipelineStoppedException || SwarmErrors.Unwrap(ex) is ActionPreferenceStopException) throw SwarmErrors.Unwrap(ex);
                DrainMessages();
                WriteError(SwarmErrors.ToRecord(ex, target));
            }
            finally
            {
                DrainMessages();
            }
        }

        private bool OnPipelineThread => Thread.CurrentThread.ManagedThreadId == _pipelineThread;

        private void DrainMessages()
        {
            if (!OnPipelineThread) return;
            while (_messages.TryDequeue(out var m))
            {
                switch (m.Kind)
                {
                    case 0: WriteVerbose(m.Text); break;
                    case 1: WriteDebug(m.Text); break;
                    default: WriteWarning(m.Text); break;
                }
            }
        }

        private void Log(int kind, string text)
        {
            if (OnPipelineThread)
            {
                DrainMessages();
                switch (kind)
                {
                    case 0: WriteVerbose(text); break;
                    case 1: WriteDebug(text); break;
                    default: WriteWarning(text); break;
                }
            }
            else
            {
                _messages.Enqueue((kind, text));
            }
        }

        void IOperationLog.Verbose(string message) => Log(0, message);
        void IOperationLog.Debug(string message) => Log(1, message);
        void IOperationLog.Warning(string message) => Log(2, message);

        protected void Verbose(string message) => Log(0, message);

        /// <summary>Thrown from async code to end the whole command with this record (raised on the pipeline thread).</summary>
        protected sealed class TerminatingErrorException : Exception
        {
            public TerminatingErrorException(ErrorRecord record) : base(record.Exception?.Message, record.Exception) { Record = record; }
            public ErrorRecord Record { get; }
        }

        protected void WriteErrorFor(Exception ex, object target)
        {
            if (SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested) throw new PipelineStoppedException();
            WriteError(SwarmErrors.ToRecord(ex, target));
        }
    }

    /// <summary>A cmdlet that talks to a swarm through a context (the -Context parameter or the session default).</summary>
    public abstract class SwarmContextCmdlet : SwarmCmdlet
    {
        /// <summary>The swarm to use; defaults to the last Connect-SwarmCluster of this session.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNull]
        public SwarmContext Context { get; set; }

        protected SwarmContext ResolveContext()
        {
            SwarmContext ctx = Context ?? SwarmContext.Default;
            if (ctx == null)
            {
                throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.NotConnected, ErrorCategory.ConnectionError,
                    "No swarm is connected in this session. Run Connect-SwarmCluster -Endpoint ssh://user@manager first, or pass -Context.", null));
            }
            return ctx;
        }

        /// <summary>One engine API call through the context, with its timeout and manager fail-over.</summary>
        protected Task<T> CallAsync<T>(SwarmContext ctx, string operation, Func<DockerClient, CancellationToken, Task<T>> call, bool retryOnOtherManager = true)
            => ctx.InvokeAsync(operation, call, this, StopToken, retryOnOtherManager);

        /// <summary>The same with an explicit deadline token and per-call timeout (for cmdlets that promise to answer in bounded time).</summary>
        protected Task<T> CallAsync<T>(SwarmContext ctx, string operation, Func<DockerClient, CancellationToken, Task<T>> call, CancellationToken deadline, TimeSpan timeout)
            => ctx.InvokeAsync(operation, call, this, deadline, true, timeout);
    }
}
