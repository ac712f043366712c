using System;
using System.Collections.Generic;

namespace SwarmAdmin.Stacks
{
    /// <summary>
    /// A problem in a compose file, with its position. Message is "file:line:column: keyPath: reason" (the key path is
    /// left out when the problem is about the whole file). When the loader finds several problems it throws the first
    /// (by file, then position) and lists all of them in <see cref="Errors"/>.
    /// </summary>
    public sealed class ComposeFileException : Exception
    {
        public ComposeFileException(string file, int line, int column, string keyPath, string reason, Exception inner = null)
            : base(Format(file, line, column, keyPath, reason), inner)
        {
            File = file; Line = line; Column = column; KeyPath = keyPath ?? string.Empty; Reason = reason;
            Errors = new[] { this };
        }

        private static string Format(string file, int line, int column, string keyPath, string reason)
            => string.IsNullOrEmpty(keyPath) ? $"{file}:{line}:{column}: {reason}" : $"{file}:{line}:{column}: {keyPath}: {reason}";

        /// <summary>The compose file (as given to the loader).</summary>
        public string File { get; }
        /// <summary>1-based line and column of the offending text.</summary>
        public int Line { get; }
        public int Column { get; }
        /// <summary>Where in the document, e.g. services.web.deploy.replicas or services.web.ports[1]; empty for the whole file.</summary>
        public string KeyPath { get; }
        /// <summary>The message without position and key path.</summary>
        public string Reason { get; }
        /// <summary>A fix when one is obvious (the closest allowed key, quoting a value...), else null.</summary>
        public string Suggestion { get; internal set; }
        /// <summary>Every problem found in this load (this one first).</summary>
        public IReadOnlyList<ComposeFileException> Errors { get; internal set; }
    }

    /// <summary>Something docker stack deploy accepts but ignores (or a compatibility note), with its position.</summary>
    public sealed class ComposeWarning
    {
        public ComposeWarning(string file, int line, int column, string keyPath, string message)
        {
            File = file; Line = line; Column = column; KeyPath = keyPath ?? string.Empty; Message = message;
        }
        public string File { get; }
        public int Line { get; }
        public int Column { get; }
        public string KeyPath { get; }
        public string Message { get; }
        public override string ToString() => $"{File}:{Line}:{Column}: {KeyPath}: {Message}";
    }
}
