using System.Collections.Concurrent;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Runs a script block given to Connect-D365 (-TokenProvider, -ClientAssertion) when Core asks for it, from any thread.
    /// <para>
    /// A script block belongs to the runspace it was made in and may run only on a thread where that runspace is current
    /// and free: from a thread-pool thread it fails (no runspace), and from another runspace's thread it corrupts both.
    /// Core asks for a token from whichever worker needs it (-ThrottleLimit workers are thread-pool tasks). So each call is
    /// taken to the runspace of Connect-D365: to the pipeline thread of a command of this module running there, which
    /// pumps its <see cref="PipelineBridge"/> while Core works (the usual case: the very command that needs the token);
    /// or, when that runspace is idle (a thread job using the session while the console waits at its prompt), into a new
    /// pipeline of its own. A runspace busy with anything else cannot be entered: TokenProviderUnavailable says so.
    /// Running the block in a runspace of the module's own would lose the caller's variables, modules and Az context.
    /// Core's token cache lets one call run at a time and shares its result with every worker waiting for it.
    /// </para>
    /// </summary>
    internal sealed class RunspaceScript
    {
        private static readonly ConcurrentDictionary<Runspace, Pump> Pumps = new ConcurrentDictionary<Runspace, Pump>();
        private readonly ScriptBlock _script;
        private readonly Runspace _home;

        /// <summary>Captures the current runspace: call on the pipeline thread of Connect-D365.</summary>
        public RunspaceScript(ScriptBlock script)
        {
            _script = script ?? throw new ArgumentNullException(nameof(script));
            _home = Runspace.DefaultRunspace ?? throw new InvalidOperationException("Connect-D365 runs without a runspace.");
        }

        /// <summary>
        /// Marks the calling pipeline thread as the place to run scripts of its runspace while <paramref name="bridge"/>
        /// pumps. The outermost command of a runspace keeps the mark; a command nested in a script it runs leaves it alone.
        /// </summary>
        public static IDisposable Pumping(PipelineBridge bridge)
        {
            var runspace = Runspace.DefaultRunspace;
            var pump = new Pump(bridge);
            return runspace != null && Pumps.TryAdd(runspace, pump) ? new Registration(runspace, pump) : (IDisposable)pump;
        }

        /// <summary>The script's output. Its exceptions come through as they are, for the caller's own ErrorId.</summary>
        public async Task<Collection<PSObject>> InvokeAsync(CancellationToken cancellationToken)
        {
            while (Pumps.TryGetValue(_home, out var pump))
            {
                // A command that stops pumping before it takes the call leaves it: the call is then claimed back and
                // made elsewhere, and never runs twice.
                var claimed = 0;
                var call = pump.Bridge.InvokeAsync(() => Interlocked.Exchange(ref claimed, 1) == 0 ? Outcome.Of(_script) : new Outcome(new Collection<PSObject>(), null));
                if (await Task.WhenAny(call, pump.Stopped).ConfigureAwait(false) == call || Interlocked.Exchange(ref claimed, 1) == 1)
                    return (await call.ConfigureAwait(false)).Result();
            }
            var availability = _home.RunspaceStateInfo.State == RunspaceState.Opened ? _home.RunspaceAvailability : RunspaceAvailability.None;
            if (availability != RunspaceAvailability.Available)
                throw ErrorCatalog.TokenProviderUnavailable.Create(availability == RunspaceAvailability.None
                    ? "the runspace of Connect-D365 is closed."
                    : "the runspace of Connect-D365 is busy running another command.");
            return await Task.Run(() =>
            {
                using var shell = System.Management.Automation.PowerShell.Create();
                shell.Runspace = _home;
                shell.AddScript("param($script) & $script").AddArgument(_script);
                try
                {
                    return shell.Invoke();
                }
                catch (PSInvalidOperationException ex)
                {
                    // It became busy between the look and the call.
                    throw ErrorCatalog.TokenProviderUnavailable.Wrap(ex, ex.Message);
                }
            }, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>The last object the script wrote that is not null (a PSObject, whose note properties a [pscustomobject] needs).</summary>
        public static PSObject? LastOutput(Collection<PSObject> output)
        {
            for (var i = output.Count - 1; i >= 0; i--)
                if (output[i]?.BaseObject != null) return output[i];
            return null;
        }

        /// <summary>
        /// The script's output or its failure, carried back to the waiting worker: an exception thrown on the pumping thread
        /// would end the command that pumps instead of reaching the worker, which turns it into the caller's own ErrorId.
        /// A stopped pipeline (Ctrl+C) still ends the command.
        /// </summary>
        private sealed class Outcome(Collection<PSObject>? output, Exception? failure)
        {
            public static Outcome Of(ScriptBlock script)
            {
                try
                {
                    return new Outcome(script.Invoke(), null);
                }
                catch (RuntimeException ex) when (!(ex is PipelineStoppedException))
                {
                    return new Outcome(null, ex);
                }
            }

            public Collection<PSObject> Result() => failure is null ? output! : throw failure;
        }

        private sealed class Pump(PipelineBridge bridge) : IDisposable
        {
            private readonly TaskCompletionSource<bool> _stopped = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            public PipelineBridge Bridge { get; } = bridge;
            public Task Stopped => _stopped.Task;
            public void Dispose() => _stopped.TrySetResult(true);
        }

        private sealed class Registration(Runspace runspace, Pump pump) : IDisposable
        {
            public void Dispose()
            {
                ((ICollection<KeyValuePair<Runspace, Pump>>)Pumps).Remove(new KeyValuePair<Runspace, Pump>(runspace, pump));
                pump.Dispose();
            }
        }
    }
}
