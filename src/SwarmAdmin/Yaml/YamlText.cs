using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.IO;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SwarmAdmin.Yaml
{
    /// <summary>A YAML parse error with the position PowerShell users need to fix the file.</summary>
    public sealed class YamlTextException : Exception
    {
        public YamlTextException(string source, long line, long column, string message, Exception inner)
            : base($"{source}:{line}:{column}: {message}", inner)
        {
            Source = source; Line = line; Column = column;
        }
        public new string Source { get; }
        public long Line { get; }
        public long Column { get; }
    }

    /// <summary>
    /// Reads YAML into plain PowerShell-friendly objects (ordered dictionaries, object arrays, strings) so no
    /// YamlDotNet type ever leaves the module. The base of the cluster file and compose file readers.
    /// </summary>
    public static class YamlText
    {
        /// <summary>Parses the first document of <paramref name="text"/>; an empty text gives null.</summary>
        public static object Parse(string text, string source = "<text>")
        {
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(text ?? string.Empty));
            }
            catch (YamlException ex)
            {
                throw new YamlTextException(source, ex.Start.Line, ex.Start.Column, ex.InnerException?.Message ?? ex.Message, ex);
            }
            return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode);
        }

        private static object Convert(YamlNode node)
        {
            switch (node)
            {
                case YamlMappingNode map:
                    var dict = new OrderedDictionary(StringComparer.Ordinal);
                    foreach (var kv in map.Children)
                    {
                        string key = (kv.Key as YamlScalarNode)?.Value ?? kv.Key.ToString();
                        dict[key] = Convert(kv.Value);
                    }
                    return dict;
                case YamlSequenceNode seq:
                    var list = new List<object>();
                    foreach (var item in seq.Children) list.Add(Convert(item));
                    return list.ToArray();
                case YamlScalarNode scalar:
                    if (scalar.Style == ScalarStyle.Plain && (scalar.Value == "~" || scalar.Value == "null" || scalar.Value == string.Empty)) return null;
                    return scalar.Value;
                default:
                    return null;
            }
        }
    }
}
