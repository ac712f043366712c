using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Completion
{
    /// <summary>A name an argument completer may offer, with the tooltip that describes it.</summary>
    internal sealed class CompletionCandidate
    {
        public CompletionCandidate(string name, string toolTip)
        {
            Name = name;
            ToolTip = string.IsNullOrEmpty(toolTip) ? name : toolTip;
        }

        public string Name { get; }
        public string ToolTip { get; }
    }

    /// <summary>One completion: the text that replaces the word (quoted when needed), the list text and the tooltip.</summary>
    internal readonly struct CompletionItem
    {
        public CompletionItem(string completionText, string listItemText, string toolTip)
        {
            CompletionText = completionText; ListItemText = listItemText; ToolTip = toolTip;
        }

        public string CompletionText { get; }
        public string ListItemText { get; }
        public string ToolTip { get; }
    }

    /// <summary>
    /// The pure part of the argument completers: which candidates match the word being completed (a case-insensitive
    /// wildcard prefix: "web*" and "w?b" work, "`*" is a literal star), in what order, and how each is quoted.
    /// </summary>
    internal static class CompletionMatcher
    {
        /// <summary>The candidates whose name starts with <paramref name="wordToComplete"/> (wildcards allowed), sorted case-insensitively, each name once.</summary>
        public static IReadOnlyList<CompletionItem> Match(IEnumerable<CompletionCandidate> candidates, string wordToComplete)
        {
            string word = Unquote(wordToComplete, out char quote);
            Regex pattern = PrefixPattern(word);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            return (candidates ?? Enumerable.Empty<CompletionCandidate>())
                .Where(c => c != null && !string.IsNullOrEmpty(c.Name) && pattern.IsMatch(c.Name) && seen.Add(c.Name))
                .OrderBy(c => c.Name, StringComparer.OrdinalIgnoreCase).ThenBy(c => c.Name, StringComparer.Ordinal)
                .Select(c => new CompletionItem(Quote(c.Name, quote), c.Name, c.ToolTip))
                .ToList();
        }

        /// <summary>The word without the quote the user opened (and closed) it with; <paramref name="quote"/> is that quote or '\0'.</summary>
        public static string Unquote(string word, out char quote)
        {
            quote = '\0';
            if (string.IsNullOrEmpty(word)) return string.Empty;
            char first = word[0];
            if (IsSingleQuote(first) || IsDoubleQuote(first))
            {
                quote = IsSingleQuote(first) ? '\'' : '"';
                string inner = word.Substring(1);
                if (inner.Length > 0 && (IsSingleQuote(first) ? IsSingleQuote(inner[inner.Length - 1]) : IsDoubleQuote(inner[inner.Length - 1])))
                    inner = inner.Substring(0, inner.Length - 1);
                return quote == '\'' ? inner.Replace("''", "'") : inner;
            }
            return word;
        }

        /// <summary>
        /// The name as PowerShell needs it typed: bare when it is a plain word, otherwise in single quotes (or in the
        /// quote the user started with), with embedded quotes doubled.
        /// </summary>
        public static string Quote(string name, char userQuote = '\0')
        {
            if (name == null) return string.Empty;
            if (userQuote == '"')
            {
                if (name.IndexOfAny(new[] { '$', '`' }) < 0) return "\"" + name.Replace("\"", "\"\"") + "\"";
                userQuote = '\''; // a double-quoted string would expand $ and `: fall back to single quotes
            }
            if (userQuote == '\'' || NeedsQuotes(name))
            {
                var sb = new StringBuilder(name.Length + 2).Append('\'');
                foreach (char ch in name)
                {
                    sb.Append(ch);
                    if (IsSingleQuote(ch)) sb.Append(ch);
                }
                return sb.Append('\'').ToString();
            }
            return name;
        }

        /// <summary>Whether a bare word would not reach the cmdlet as this exact string (spaces, PowerShell operators, a leading '-', '@', '$', a quote...).</summary>
        public static bool NeedsQuotes(string name)
        {
            if (string.IsNullOrEmpty(name)) return true;
            char first = name[0];
            if (IsDash(first) || first == '@' || first == '#' || first == '<' || first == '>' || first == '=' || (first == '.' && name.Length > 1 && char.IsDigit(name[1]))) return true;
            // a bare 1e5 or 0x10 or 007 reaches the cmdlet as another string (100000, 16, 7); a plain 101 stays 101
            if (char.IsDigit(first) && LooksNumeric(name) && !(name.All(char.IsDigit) && (name.Length == 1 || first != '0'))) return true;
            foreach (char ch in name)
            {
                if (char.IsWhiteSpace(ch) || IsSingleQuote(ch) || IsDoubleQuote(ch)) return true;
                switch (ch)
                {
                    case '$': case '`': case '{': case '}': case '(': case ')': case ';': case ',': case '|': case '&': case '[': case ']':
                        return true;
                }
            }
            return false;
        }

        /// <summary>"1e5", "0x1F", "12kb", "3.5" would be numbers to the parser, not strings.</summary>
        private static bool LooksNumeric(string name) =>
            Regex.IsMatch(name, @"^(0x[0-9a-f]+|[0-9]+(\.[0-9]*)?(e[+-]?[0-9]+)?)([lud]|kb|mb|gb|tb|pb)?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        /// <summary>A regex for "starts with <paramref name="word"/>", where * ? [..] in the word are PowerShell wildcards and ` escapes.</summary>
        internal static Regex PrefixPattern(string word)
        {
            var sb = new StringBuilder("^");
            for (int i = 0; i < word.Length; i++)
            {
                char ch = word[i];
                if (ch == '`' && i + 1 < word.Length)
                {
                    sb.Append(Regex.Escape(word[++i].ToString()));
                }
                else if (ch == '*') sb.Append(".*");
                else if (ch == '?') sb.Append('.');
                else if (ch == '[' && TryCharClass(word, i, out string cls, out int end))
                {
                    sb.Append(cls);
                    i = end;
                }
                else sb.Append(Regex.Escape(ch.ToString()));
            }
            return new Regex(sb.ToString(), RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline);
        }

        private static bool TryCharClass(string word, int start, out string cls, out int end)
        {
            cls = null;
            end = word.IndexOf(']', start + 1);
            if (end <= start + 1) return false;
            var sb = new StringBuilder("[");
            for (int i = start + 1; i < end; i++)
            {
                char ch = word[i];
                if (ch == '-' && i > start + 1 && i < end - 1) sb.Append('-');
                else if (ch == '\\' || ch == '^' || ch == '[' || ch == '-') sb.Append('\\').Append(ch);
                else sb.Append(ch);
            }
            cls = sb.Append(']').ToString();
            return true;
        }

        private static bool IsSingleQuote(char c) => c == '\'' || c == '\u2018' || c == '\u2019' || c == '\u201A' || c == '\u201B';
        private static bool IsDoubleQuote(char c) => c == '"' || c == '\u201C' || c == '\u201D' || c == '\u201E';
        private static bool IsDash(char c) => c == '-' || c == '\u2013' || c == '\u2014' || c == '\u2015';
    }
}
