namespace ProxmoxSimulator;

/// <summary>
/// A Perl-style "die" of the Proxmox API: status (default 500), message (reason phrase = first line,
/// JSON body "message"), optional parameter errors (400 "Parameter verification failed.").
/// Inside a task it becomes "TASK ERROR: message".
/// </summary>
public class PveException : Exception
{
    public int Status { get; }
    public Dictionary<string, string> Errors { get; }
    /// <summary>Auth-layer failures: empty body, delayed.</summary>
    public bool EmptyBody { get; init; }
    /// <summary>Transport-level errors (AnyEvent error()): the message is the plain-text body.</summary>
    public bool PlainBody { get; init; }

    public PveException(string message, int status = 500, Dictionary<string, string> errors = null) : base(message)
    {
        Status = status;
        Errors = errors;
    }

    public static PveException Die(string message) => new(message.EndsWith('\n') ? message : message + "\n");

    public static PveException Param(string key, string msg) =>
        new("Parameter verification failed.\n", 400, new Dictionary<string, string> { [key] = msg });

    public static PveException Params(Dictionary<string, string> errors) =>
        new("Parameter verification failed.\n", 400, errors);

    public static PveException Perm(string what = null) =>
        new("Permission check failed" + (what == null ? "" : " (" + what + ")") + "\n", 403);
}

/// <summary>Thrown by a task body to end it with "TASK ERROR: msg".</summary>
public sealed class TaskErrorException : Exception
{
    public TaskErrorException(string message) : base(message) { }
}
