using System.Linq;
using SwarmAdmin.Completion;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class CompletionMatcherTests
    {
        private static CompletionCandidate C(string name, string tip = null) => new CompletionCandidate(name, tip);

        private static string[] Texts(string word, params string[] names) =>
            CompletionMatcher.Match(names.Select(n => C(n)), word).Select(i => i.CompletionText).ToArray();

        [Fact]
        public void Prefix_is_case_insensitive_and_sorted()
        {
            Assert.Equal(new[] { "swarmlab-m1", "Swarmlab-M2", "swarmlab-w1" }, Texts("SWARMLAB-", "swarmlab-w1", "Swarmlab-M2", "other", "swarmlab-m1"));
        }

        [Fact]
        public void Empty_word_offers_everything_once()
        {
            Assert.Equal(new[] { "a", "b" }, Texts("", "b", "a", "b", null, ""));
            Assert.Equal(new[] { "a" }, Texts(null, "a"));
        }

        [Fact]
        public void Wildcards_in_the_word_match_like_PowerShell()
        {
            Assert.Equal(new[] { "web_api", "web_app" }, Texts("web_a*", "web_app", "web_api", "db_app"));
            Assert.Equal(new[] { "db_app", "web_app" }, Texts("*app", "web_app", "web_api", "db_app"));
            Assert.Equal(new[] { "m1", "m2" }, Texts("m?", "m1", "m2", "w1"));
            Assert.Equal(new[] { "m1", "m3" }, Texts("m[13]", "m1", "m2", "m3"));
            Assert.Equal(new[] { "m1", "m2" }, Texts("m[1-2]", "m1", "m2", "m3"));
        }

        [Fact]
        public void Backtick_escapes_a_wildcard_and_regex_characters_are_literal()
        {
            Assert.Equal(new[] { "a*b" }, Texts("a`*", "a*b", "axb"));
            Assert.Equal(new[] { "a.b" }, Texts("a.", "a.b", "axb"));
            Assert.Equal(new[] { "'a[b'" }, Texts("a[", "a[b", "ab"));
        }

        [Fact]
        public void Plain_names_stay_bare()
        {
            foreach (string n in new[] { "swarmlab-m1", "web_app", "db.password.v2", "101", "7", "node01", "a-b", "x:y" })
                Assert.Equal(n, CompletionMatcher.Quote(n));
        }

        [Fact]
        public void Names_PowerShell_would_change_or_split_are_single_quoted()
        {
            Assert.Equal("'my vm'", CompletionMatcher.Quote("my vm"));
            Assert.Equal("'it''s'", CompletionMatcher.Quote("it's"));
            Assert.Equal("'-dash'", CompletionMatcher.Quote("-dash"));
            Assert.Equal("'$x'", CompletionMatcher.Quote("$x"));
            Assert.Equal("'a,b'", CompletionMatcher.Quote("a,b"));
            Assert.Equal("'a;b'", CompletionMatcher.Quote("a;b"));
            Assert.Equal("'(x)'", CompletionMatcher.Quote("(x)"));
            Assert.Equal("'@x'", CompletionMatcher.Quote("@x"));
            Assert.Equal("'#x'", CompletionMatcher.Quote("#x"));
            Assert.Equal("'1e5'", CompletionMatcher.Quote("1e5"));
            Assert.Equal("'0x10'", CompletionMatcher.Quote("0x10"));
            Assert.Equal("'007'", CompletionMatcher.Quote("007"));
            Assert.Equal("'1.5'", CompletionMatcher.Quote("1.5"));
            Assert.Equal("'10kb'", CompletionMatcher.Quote("10kb"));
            Assert.Equal("'a`b'", CompletionMatcher.Quote("a`b"));
        }

        [Fact]
        public void The_users_opening_quote_is_kept()
        {
            Assert.Equal(new[] { "'swarmlab-m1'" }, Texts("'swarmlab-m", "swarmlab-m1"));
            Assert.Equal(new[] { "\"swarmlab-m1\"" }, Texts("\"swarmlab-m", "swarmlab-m1"));
            Assert.Equal(new[] { "'my vm'" }, Texts("'my v'", "my vm"));
            Assert.Equal(new[] { "'it''s'" }, Texts("'it''", "it's"));
            // a double-quoted $ would expand: single quotes instead
            Assert.Equal(new[] { "'$x'" }, Texts("\"$", "$x"));
        }

        [Fact]
        public void Unquote_strips_the_quotes_and_doubled_single_quotes()
        {
            Assert.Equal("ab", CompletionMatcher.Unquote("'ab'", out char q));
            Assert.Equal('\'', q);
            Assert.Equal("a'b", CompletionMatcher.Unquote("'a''b", out _));
            Assert.Equal("ab", CompletionMatcher.Unquote("\"ab", out q));
            Assert.Equal('"', q);
            Assert.Equal("ab", CompletionMatcher.Unquote("ab", out q));
            Assert.Equal('\0', q);
        }

        [Fact]
        public void The_tooltip_and_list_text_are_carried_over()
        {
            var item = CompletionMatcher.Match(new[] { C("my vm", "my vm: VMID 101 on pve01, running") }, "my").Single();
            Assert.Equal("'my vm'", item.CompletionText);
            Assert.Equal("my vm", item.ListItemText);
            Assert.Equal("my vm: VMID 101 on pve01, running", item.ToolTip);
            Assert.Equal("plain", CompletionMatcher.Match(new[] { C("plain") }, "").Single().ToolTip);
        }
    }
}
