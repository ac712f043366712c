using System.Collections.Generic;
using System.Linq;
using Docker.DotNet.Models;
using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>Deploy-SwarmStack -Wait: converged / running / desired from the up-to-date tasks of a service.</summary>
    public class StackConvergenceTests
    {
        private static TaskResponse Task(string node, TaskState desired, TaskState state) =>
            new TaskResponse { NodeID = node, DesiredState = desired, Status = new TaskStatus { State = state } };

        private static Docker.DotNet.Models.SwarmService Service(ServiceMode mode, ulong desiredTasks = 0, ulong completed = 0) =>
            new Docker.DotNet.Models.SwarmService { Spec = new ServiceSpec { Mode = mode }, ServiceStatus = new ServiceStatus { DesiredTasks = desiredTasks, CompletedTasks = completed } };

        [Fact]
        public void Replicated_converges_when_all_replicas_run()
        {
            var svc = Service(new ServiceMode { Replicated = new ReplicatedService { Replicas = 2 } });
            Assert.Equal((false, 1UL, 2UL), StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Running, TaskState.Running), Task("b", TaskState.Running, TaskState.Starting) }));
            Assert.Equal((true, 2UL, 2UL), StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Running, TaskState.Running), Task("b", TaskState.Running, TaskState.Running) }));
        }

        [Fact]
        public void Replicated_without_replicas_means_one_and_zero_replicas_is_converged_at_once()
        {
            Assert.Equal((false, 0UL, 1UL), StackConvergence.Evaluate(Service(new ServiceMode { Replicated = new ReplicatedService() }), new TaskResponse[0]));
            Assert.Equal((true, 0UL, 0UL), StackConvergence.Evaluate(Service(new ServiceMode { Replicated = new ReplicatedService { Replicas = 0 } }), new TaskResponse[0]));
        }

        [Fact]
        public void A_task_that_is_shutting_down_does_not_count_as_running()
        {
            var svc = Service(new ServiceMode { Replicated = new ReplicatedService { Replicas = 1 } });
            Assert.False(StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Shutdown, TaskState.Running) }).Converged);
        }

        [Fact]
        public void Global_needs_every_node_with_a_task_to_run_it()
        {
            var svc = Service(new ServiceMode { Global = new GlobalService() }, desiredTasks: 3);
            Assert.Equal((false, 2UL, 3UL), StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Running, TaskState.Running), Task("b", TaskState.Running, TaskState.Running), Task("c", TaskState.Running, TaskState.Preparing) }));
            Assert.Equal((true, 3UL, 3UL), StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Running, TaskState.Running), Task("b", TaskState.Running, TaskState.Running), Task("c", TaskState.Running, TaskState.Running) }));
            // no task yet but the engine says 3 are wanted: not converged
            Assert.False(StackConvergence.Evaluate(svc, new TaskResponse[0]).Converged);
            // no eligible node at all: nothing to wait for
            Assert.True(StackConvergence.Evaluate(Service(new ServiceMode { Global = new GlobalService() }), new TaskResponse[0]).Converged);
        }

        [Fact]
        public void Replicated_job_converges_on_completions()
        {
            var svc = Service(new ServiceMode { ReplicatedJob = new ReplicatedJob { TotalCompletions = 2, MaxConcurrent = 1 } });
            Assert.Equal((false, 1UL, 2UL), StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Complete, TaskState.Complete), Task("a", TaskState.Complete, TaskState.Running) }));
            Assert.True(StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Complete, TaskState.Complete), Task("b", TaskState.Complete, TaskState.Complete) }).Converged);
        }

        [Fact]
        public void Global_job_converges_when_every_task_completed()
        {
            var svc = Service(new ServiceMode { GlobalJob = new GlobalJob() });
            Assert.False(StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Complete, TaskState.Complete), Task("b", TaskState.Complete, TaskState.Running) }).Converged);
            Assert.True(StackConvergence.Evaluate(svc, new[] { Task("a", TaskState.Complete, TaskState.Complete), Task("b", TaskState.Complete, TaskState.Complete) }).Converged);
            Assert.False(StackConvergence.Evaluate(svc, new TaskResponse[0]).Converged);
        }
    }
}
