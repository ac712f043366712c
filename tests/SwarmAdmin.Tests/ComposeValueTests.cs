using System;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Linq;
using System.Text;
using SwarmAdmin.Stacks;
using SwarmAdmin.Yaml;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class ComposeValueTests
    {
        // docker/cli cli/compose/template/template_test.go: defaults = {FOO: "first", BAR: ""}
        private static readonly Func<string, (bool Found, string Value)> Defaults =
            ComposeInterpolation.LookupFrom(new Dictionary<string, string> { ["FOO"] = "first", ["BAR"] = "", ["HOME"] = "/home/me" });

        private static string Sub(string text) => ComposeInterpolation.Interpolate(text, Defaults, "services.web.image");

        // ---------------------------------------------------------------- interpolation: valid forms

        [Theory]
        [InlineData("$${foo}", "${foo}")]                                       // TestEscaped
        [InlineData("foo", "foo")]                                              // TestSubstituteNoMatch
        [InlineData("This ${missing} var", "This  var")]                        // TestNoValueNoDefault
        [InlineData("This ${BAR} var", "This  var")]
        [InlineData("This $FOO var", "This first var")]                         // TestValueNoDefault
        [InlineData("This ${FOO} var", "This first var")]
        [InlineData("ok ${missing:-def}", "ok def")]                            // TestNoValueWithDefault
        [InlineData("ok ${missing-def}", "ok def")]
        [InlineData("ok ${BAR:-def}", "ok def")]                                // TestEmptyValueWithSoftDefault
        [InlineData("ok ${FOO:-def}", "ok first")]                              // TestValueWithSoftDefault
        [InlineData("ok ${BAR-def}", "ok ")]                                    // TestEmptyValueWithHardDefault
        [InlineData("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric")]  // TestNonAlphanumericDefault
        [InlineData("ok ${FOO:?err}", "ok first")]                              // TestDefaultsForMandatoryVariables
        [InlineData("ok ${FOO?err}", "ok first")]
        [InlineData("ok ${BAR?err}", "ok ")]
        [InlineData("$$FOO", "$FOO")]
        [InlineData("$$$FOO", "$first")]
        [InlineData("a$$", "a$")]
        [InlineData("$$", "$")]
        [InlineData("${FOO}${FOO}", "firstfirst")]
        [InlineData("$FOO$FOO", "firstfirst")]
        [InlineData("$FOO/bin", "first/bin")]
        [InlineData("${HOME}/data:/data", "/home/me/data:/data")]
        [InlineData("${_x1}", "")]
        [InlineData("${foo:-x}", "x")]                                          // names are case-sensitive
        [InlineData("${FOO:-}", "first")]
        [InlineData("${missing:-}", "")]
        [InlineData("${missing-a b c}", "a b c")]
        [InlineData("${missing:-{x}", "{x")]
        [InlineData("no dollar at all", "no dollar at all")]
        [InlineData("", "")]
        // Quirks of the CLI's regex, reproduced on purpose:
        [InlineData("$FOO-suffix", "first")]                // unbraced default form: "suffix" is FOO's default
        [InlineData("${FOO}-suffix", "first-suffix")]
        [InlineData("$FOO:-x", "first")]
        [InlineData("$missing-a b}c", "a b}c")]             // unbraced default runs up to '}' or the end
        [InlineData("$FOO:x", "first:x")]                   // ':' not followed by - or ? ends the name
        [InlineData("${A:-${B}}", "${B}")]                  // no nesting: default is "${B", then a literal "}"
        [InlineData("${FOO?msg-with-dash}", "with-dash")]   // "-" is tested before "?": name "FOO?msg", default "with-dash"
        [InlineData("${missing?a:-b}", "b")]                // ":-" is tested first: name "missing?a", default "b"
        [InlineData("$\u212A", "")]                         // Go's (?i)[a-z] also matches the Kelvin sign
        public void Interpolate_matches_cli(string text, string expected) => Assert.Equal(expected, Sub(text));

        [Fact]
        public void Interpolate_does_not_reinterpolate_values()
        {
            var lookup = ComposeInterpolation.LookupFrom(new Dictionary<string, string> { ["A"] = "$B", ["B"] = "no" });
            Assert.Equal("$B", ComposeInterpolation.Interpolate("${A}", lookup, "x"));
        }

        // ---------------------------------------------------------------- interpolation: errors

        [Theory]
        [InlineData("${")]           // TestInvalid
        [InlineData("$}")]
        [InlineData("${}")]
        [InlineData("${ }")]
        [InlineData("${ foo}")]
        [InlineData("${foo }")]
        [InlineData("${foo!}")]
        [InlineData("${FOO")]
        [InlineData("${FOO:x}")]
        [InlineData("${FOO:+x}")]    // not supported by docker stack (compose-go only)
        [InlineData("${FOO+x}")]
        [InlineData("a$")]
        [InlineData("$1")]
        [InlineData("$ ")]
        [InlineData("price: 5$")]
        [InlineData("ok $FOO then ${")]
        public void Interpolate_rejects_invalid_syntax(string text)
        {
            var ex = Assert.Throws<ComposeInterpolationException>(() => Sub(text));
            Assert.Equal("services.web.image", ex.Path);
            Assert.Equal(text, ex.Template);
            Assert.Equal($"invalid interpolation format for services.web.image: \"{text}\"; you may need to escape any $ with another $", ex.Message);
        }

        [Theory]
        [InlineData("not ok ${UNSET_VAR:?Mandatory Variable Unset}", "required variable UNSET_VAR is missing a value: Mandatory Variable Unset")]
        [InlineData("not ok ${BAR:?Mandatory Variable Empty}", "required variable BAR is missing a value: Mandatory Variable Empty")]
        [InlineData("not ok ${UNSET_VAR:?}", "required variable UNSET_VAR is missing a value: ")]
        [InlineData("not ok ${UNSET_VAR?Mandatory Variable Unset}", "required variable UNSET_VAR is missing a value: Mandatory Variable Unset")]
        [InlineData("not ok ${UNSET_VAR?}", "required variable UNSET_VAR is missing a value: ")]
        [InlineData("${DB_PASS?set DB_PASS in .env}", "required variable DB_PASS is missing a value: set DB_PASS in .env")]
        public void Required_variables_carry_the_users_message(string text, string template)
        {
            var ex = Assert.Throws<ComposeInterpolationException>(() =>
                ComposeInterpolation.Interpolate(text, Defaults, "services.db.environment.DB_PASS"));
            Assert.Equal("services.db.environment.DB_PASS", ex.Path);
            Assert.Equal(template, ex.Template);
            Assert.Equal($"invalid interpolation format for services.db.environment.DB_PASS: \"{template}\"; you may need to escape any $ with another $", ex.Message);
        }

        [Fact]
        public void Error_message_quotes_the_value_like_go()
        {
            var ex = Assert.Throws<ComposeInterpolationException>(() =>
                ComposeInterpolation.Interpolate("say \"hi\"\n${", Defaults, "p"));
            Assert.Equal("invalid interpolation format for p: \"say \\\"hi\\\"\\n${\"; you may need to escape any $ with another $", ex.Message);
        }

        // ---------------------------------------------------------------- interpolation: tree

        private const string Compose = @"
version: ""3.8""
services:
  web:
    image: ""nginx:${TAG:-latest}""
    environment:
      FOO: $FOO
      LIT: $$HOME
      EMPTY:
    command: [""echo"", ""$FOO"", ""${NOPE-x}""]
    read_only: yes
    privileged: ${PRIV}
    deploy:
      replicas: ${REPLICAS}
      update_config:
        max_failure_ratio: ${RATIO}
    ports:
      - target: ${PORT}
        published: 8080
x-meta:
  $FOO: ${FOO}
networks:
  front:
    external: ${EXT}
";

        private static Func<string, (bool Found, string Value)> TreeVars(string replicas = "+03") =>
            ComposeInterpolation.LookupFrom(new Dictionary<string, string>
            {
                ["FOO"] = "bar", ["PRIV"] = "On", ["REPLICAS"] = replicas, ["RATIO"] = "0.25", ["PORT"] = "80", ["EXT"] = "n",
            });

        [Fact]
        public void InterpolateTree_interpolates_values_not_keys_and_casts_like_the_cli()
        {
            var tree = YamlText.Parse(Compose, "docker-compose.yml");
            var result = (OrderedDictionary)ComposeInterpolation.InterpolateTree(tree, TreeVars());

            var web = (OrderedDictionary)((OrderedDictionary)result["services"])["web"];
            Assert.Equal("nginx:latest", web["image"]);
            var env = (OrderedDictionary)web["environment"];
            Assert.Equal("bar", env["FOO"]);
            Assert.Equal("$HOME", env["LIT"]);
            Assert.Null(env["EMPTY"]);
            Assert.Equal(new object[] { "echo", "bar", "x" }, (object[])web["command"]);
            Assert.Equal("yes", web["read_only"]);           // unchanged literal: no cast (the schema decides later)
            Assert.Equal("true", web["privileged"]);         // "On" came from interpolation: cast to bool
            var deploy = (OrderedDictionary)web["deploy"];
            Assert.Equal("3", deploy["replicas"]);           // "+03" -> Atoi -> 3
            Assert.Equal("0.25", ((OrderedDictionary)deploy["update_config"])["max_failure_ratio"]);
            var port = (OrderedDictionary)((object[])web["ports"])[0];
            Assert.Equal("80", port["target"]);
            Assert.Equal("8080", port["published"]);
            var meta = (OrderedDictionary)result["x-meta"];
            Assert.Equal("bar", meta["$FOO"]);                // key kept verbatim, value interpolated
            Assert.Equal("false", ((OrderedDictionary)((OrderedDictionary)result["networks"])["front"])["external"]);

            // key order preserved, input untouched
            Assert.Equal(new[] { "version", "services", "x-meta", "networks" }, result.Keys.Cast<string>().ToArray());
            Assert.Equal("nginx:${TAG:-latest}", ((OrderedDictionary)((OrderedDictionary)((OrderedDictionary)tree)["services"])["web"])["image"]);
        }

        [Theory]
        [InlineData("abc", "error while interpolating services.web.deploy.replicas: failed to cast to expected type: strconv.Atoi: parsing \"abc\": invalid syntax")]
        [InlineData("1.5", "error while interpolating services.web.deploy.replicas: failed to cast to expected type: strconv.Atoi: parsing \"1.5\": invalid syntax")]
        [InlineData("99999999999999999999", "error while interpolating services.web.deploy.replicas: failed to cast to expected type: strconv.Atoi: parsing \"99999999999999999999\": value out of range")]
        public void InterpolateTree_reports_cast_errors(string replicas, string message)
        {
            var tree = YamlText.Parse(Compose);
            var ex = Assert.Throws<ComposeInterpolationException>(() => ComposeInterpolation.InterpolateTree(tree, TreeVars(replicas)));
            Assert.Equal("services.web.deploy.replicas", ex.Path);
            Assert.Equal(message, ex.Message);
        }

        [Fact]
        public void InterpolateTree_bool_cast_error()
        {
            var tree = YamlText.Parse("services:\n  web:\n    tty: ${T}\n");
            var lookup = ComposeInterpolation.LookupFrom(new Dictionary<string, string> { ["T"] = "maybe" });
            var ex = Assert.Throws<ComposeInterpolationException>(() => ComposeInterpolation.InterpolateTree(tree, lookup));
            Assert.Equal("error while interpolating services.web.tty: failed to cast to expected type: invalid boolean: maybe", ex.Message);
        }

        [Theory]
        [InlineData("services:\n  web:\n    environment:\n      FOO: ${FOO\n", "services.web.environment.FOO")]
        [InlineData("services:\n  web:\n    command: [\"a\", \"$\"]\n", "services.web.command.[]")]
        [InlineData("x-a: $\n", "x-a")]
        [InlineData("services:\n  db:\n    environment:\n      - DB_PASS=${DB_PASS?set DB_PASS in .env}\n", "services.db.environment.[]")]
        public void InterpolateTree_error_paths(string yaml, string path)
        {
            var ex = Assert.Throws<ComposeInterpolationException>(() =>
                ComposeInterpolation.InterpolateTree(YamlText.Parse(yaml), Defaults));
            Assert.Equal(path, ex.Path);
            Assert.StartsWith("invalid interpolation format for " + path + ": ", ex.Message);
        }

        [Fact]
        public void Required_message_survives_the_tree_walk()
        {
            var ex = Assert.Throws<ComposeInterpolationException>(() => ComposeInterpolation.InterpolateTree(
                YamlText.Parse("services:\n  db:\n    environment:\n      DB: ${DB_PASS?set DB_PASS in .env}\n"), Defaults));
            Assert.Contains("set DB_PASS in .env", ex.Message);
            Assert.Equal("services.db.environment.DB", ex.Path);
        }

        [Theory]
        [InlineData("services.web.deploy.replicas", "Int")]
        [InlineData("services.x.ports.[].published", "Int")]
        [InlineData("services.x.ulimits.nofile", "Int")]
        [InlineData("services.x.ulimits.nofile.soft", "Int")]
        [InlineData("services.x.secrets.[].mode", "Int")]
        [InlineData("services.x.deploy.rollback_config.max_failure_ratio", "Float")]
        [InlineData("services.x.volumes.[].volume.nocopy", "Bool")]
        [InlineData("secrets.s.external", "Bool")]
        [InlineData("services.x.image", "None")]
        [InlineData("services.x.deploy.resources.limits.cpus", "None")]
        [InlineData("services.x.deploy.replicas.extra", "None")]
        public void Cast_paths(string path, string kind) => Assert.Equal(kind, ComposeInterpolation.GetCastKind(path).ToString());

        [Fact]
        public void Process_environment_lookup_skips_equals_names()
        {
            var env = ComposeInterpolation.ProcessEnvironment();
            Assert.DoesNotContain(env.Keys, k => k.StartsWith("="));
            Assert.True(env.ContainsKey("PATH") || env.ContainsKey("Path"));
        }

        // ---------------------------------------------------------------- durations (Go time.ParseDuration)

        [Theory]
        [InlineData("0", 0L)]
        [InlineData("5s", 5000000000L)]
        [InlineData("30s", 30000000000L)]
        [InlineData("1478s", 1478000000000L)]
        [InlineData("-5s", -5000000000L)]
        [InlineData("+5s", 5000000000L)]
        [InlineData("-0", 0L)]
        [InlineData("+0", 0L)]
        [InlineData("5.0s", 5000000000L)]
        [InlineData("5.6s", 5600000000L)]
        [InlineData("5.s", 5000000000L)]
        [InlineData(".5s", 500000000L)]
        [InlineData("1.004s", 1004000000L)]
        [InlineData("1.0040s", 1004000000L)]
        [InlineData("100.00100s", 100001000000L)]
        [InlineData("10ns", 10L)]
        [InlineData("11us", 11000L)]
        [InlineData("12\u00B5s", 12000L)]
        [InlineData("12\u03BCs", 12000L)]
        [InlineData("13ms", 13000000L)]
        [InlineData("15m", 900000000000L)]
        [InlineData("16h", 57600000000000L)]
        [InlineData("3h30m", 12600000000000L)]
        [InlineData("10.5s4m", 250500000000L)]
        [InlineData("-2m3.4s", -123400000000L)]
        [InlineData("1h2m3s4ms5us6ns", 3723004005006L)]
        [InlineData("1h2m3.5s", 3723500000000L)]
        [InlineData("39h9m14.425s", 140954425000000L)]
        [InlineData("52763797000ns", 52763797000L)]
        [InlineData("0.3333333333333333333h", 1200000000000L)]
        [InlineData("9007199254740993ns", 9007199254740993L)]
        [InlineData("9223372036854775807ns", 9223372036854775807L)]
        [InlineData("9223372036.854775807s", 9223372036854775807L)]
        [InlineData("-9223372036854775808ns", -9223372036854775808L)]
        [InlineData("0.100000000000000000000h", 360000000000L)]
        [InlineData("0.830103483285477580700h", 2988372539827L)]
        [InlineData("300ms", 300000000L)]
        [InlineData("1us", 1000L)]
        [InlineData("1.5h", 5400000000000L)]
        [InlineData("2h45m", 9900000000000L)]
        [InlineData("1m30s", 90000000000L)]
        public void Duration_parses_like_go(string text, long nanos)
            => Assert.Equal(nanos, ComposeUnits.ParseDurationNanoseconds(text));

        [Fact]
        public void Duration_as_timespan_truncates_to_ticks()
        {
            Assert.Equal(TimeSpan.FromMilliseconds(1500), ComposeUnits.ParseDuration("1.5s"));
            Assert.Equal(TimeSpan.FromTicks(1), ComposeUnits.ParseDuration("150ns"));
            Assert.Equal(TimeSpan.Zero, ComposeUnits.ParseDuration("99ns"));
            Assert.Equal(TimeSpan.FromTicks(-10), ComposeUnits.ParseDuration("-1us"));
        }

        [Theory]
        [InlineData("", "time: invalid duration \"\"")]
        [InlineData("3", "time: missing unit in duration \"3\"")]
        [InlineData("10", "time: missing unit in duration \"10\"")]
        [InlineData("-", "time: invalid duration \"-\"")]
        [InlineData("s", "time: invalid duration \"s\"")]
        [InlineData(".", "time: invalid duration \".\"")]
        [InlineData("-.", "time: invalid duration \"-.\"")]
        [InlineData(".s", "time: invalid duration \".s\"")]
        [InlineData("+.s", "time: invalid duration \"+.s\"")]
        [InlineData("1d", "time: unknown unit \"d\" in duration \"1d\"")]
        [InlineData("2w", "time: unknown unit \"w\" in duration \"2w\"")]
        [InlineData("1S", "time: unknown unit \"S\" in duration \"1S\"")]
        [InlineData("1 s", "time: unknown unit \" s\" in duration \"1 s\"")]
        [InlineData("1.1.1s", "time: missing unit in duration \"1.1.1s\"")]
        [InlineData("1\u00E9", "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\"")]
        [InlineData("9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\"")]
        [InlineData("-9223372036854775809ns", "time: invalid duration \"-9223372036854775809ns\"")]
        [InlineData("9223372036854775.808us", "time: invalid duration \"9223372036854775.808us\"")]
        [InlineData("3000000h", "time: invalid duration \"3000000h\"")]
        [InlineData("1h-2m", "time: unknown unit \"h-\" in duration \"1h-2m\"")]
        public void Duration_errors_like_go(string text, string message)
        {
            var ex = Assert.Throws<FormatException>(() => ComposeUnits.ParseDurationNanoseconds(text));
            Assert.Equal(message, ex.Message);
        }

        // ---------------------------------------------------------------- byte sizes (go-units RAMInBytes)

        [Theory]
        [InlineData("32", 32L)]                      // go-units size_test.go TestRAMInBytes
        [InlineData("32b", 32L)]
        [InlineData("32B", 32L)]
        [InlineData("32k", 32L * 1024)]
        [InlineData("32K", 32L * 1024)]
        [InlineData("32kb", 32L * 1024)]
        [InlineData("32Kb", 32L * 1024)]
        [InlineData("32Kib", 32L * 1024)]
        [InlineData("32KIB", 32L * 1024)]
        [InlineData("32Mb", 32L * 1024 * 1024)]
        [InlineData("32Gb", 32L * 1024 * 1024 * 1024)]
        [InlineData("32Tb", 32L * 1024 * 1024 * 1024 * 1024)]
        [InlineData("32Pb", 32L * 1024 * 1024 * 1024 * 1024 * 1024)]
        [InlineData("32PB", 32L * 1024 * 1024 * 1024 * 1024 * 1024)]
        [InlineData("32P", 32L * 1024 * 1024 * 1024 * 1024 * 1024)]
        [InlineData("32.3", 32L)]
        [InlineData("32.3 mb", 33869004L)]            // int64(32.3 * MiB)
        [InlineData("32 mb", 32L * 1024 * 1024)]
        [InlineData("512M", 536870912L)]
        [InlineData("512MB", 536870912L)]
        [InlineData("512mib", 536870912L)]
        [InlineData("1.5g", 1610612736L)]
        [InlineData("0.5k", 512L)]
        [InlineData(".5k", 512L)]
        [InlineData("5.", 5L)]
        [InlineData("1e3", 1000L)]
        [InlineData("1e3k", 1024000L)]
        [InlineData("1_000", 1000L)]
        [InlineData("+5", 5L)]
        [InlineData("-0", 0L)]
        [InlineData("5 ", 5L)]
        [InlineData("0", 0L)]
        [InlineData("8191p", 8191L * 1024 * 1024 * 1024 * 1024 * 1024)]
        public void ByteSize_parses_like_go_units(string text, long bytes) => Assert.Equal(bytes, ComposeUnits.ParseByteSize(text));

        [Theory]
        [InlineData("", "invalid size: ''")]
        [InlineData("hello", "invalid size: 'hello'")]
        [InlineData("-32", "invalid size: '-32'")]
        [InlineData("-1k", "invalid size: '-1k'")]
        [InlineData(" 32 ", "strconv.ParseFloat: parsing \" 32\": invalid syntax")]
        [InlineData("32m b", "strconv.ParseFloat: parsing \"32m\": invalid syntax")]
        [InlineData("abc1", "strconv.ParseFloat: parsing \"abc1\": invalid syntax")]
        [InlineData("1..5", "strconv.ParseFloat: parsing \"1..5\": invalid syntax")]
        [InlineData("1__0", "strconv.ParseFloat: parsing \"1__0\": invalid syntax")]
        [InlineData("32bm", "invalid suffix: 'bm'")]
        [InlineData("1gi", "invalid suffix: 'gi'")]
        [InlineData("10xb", "invalid suffix: 'xb'")]
        [InlineData("32kibb", "invalid suffix: 'kibb'")]
        [InlineData("1KIBB", "invalid suffix: 'KIBB'")]
        [InlineData("1KB2", "strconv.ParseFloat: parsing \"1KB2\": invalid syntax")]
        [InlineData("1e400", "strconv.ParseFloat: parsing \"1e400\": value out of range")]
        [InlineData("8192p", "invalid size: '8192p'")]   // deviation: overflow rejected instead of Go's garbage value
        [InlineData("inf ", "invalid size: 'inf '")]
        public void ByteSize_errors(string text, string message)
        {
            var ex = Assert.Throws<FormatException>(() => ComposeUnits.ParseByteSize(text));
            Assert.Equal(message, ex.Message);
        }

        // ---------------------------------------------------------------- CPUs (opts.ParseCPUs)

        [Theory]
        [InlineData("0.5", 500000000L)]
        [InlineData("2", 2000000000L)]
        [InlineData("0.001", 1000000L)]
        [InlineData("1.25", 1250000000L)]
        [InlineData("0.000000001", 1L)]
        [InlineData("1e-9", 1L)]
        [InlineData("5e-1", 500000000L)]
        [InlineData("1/4", 250000000L)]
        [InlineData("-1/2", -500000000L)]
        [InlineData("3/2", 1500000000L)]
        [InlineData("0.1", 100000000L)]            // exact: no float rounding
        [InlineData("0.3", 300000000L)]
        [InlineData("+1.5", 1500000000L)]
        [InlineData("-1", -1000000000L)]
        [InlineData("0", 0L)]
        [InlineData("0.0", 0L)]
        [InlineData(".5", 500000000L)]
        [InlineData("5.", 5000000000L)]
        [InlineData("0.50000000000000000000", 500000000L)]
        [InlineData("1_000", 1000000000000L)]
        [InlineData("0x10", 16000000000L)]
        [InlineData("0b1.1", 1500000000L)]
        [InlineData("1p-1", 500000000L)]
        [InlineData("010", 10000000000L)]          // float form: leading 0 is decimal
        [InlineData("010/4", 2000000000L)]         // fraction form: leading 0 is OCTAL (010 = 8)
        [InlineData("0x8/0b10", 4000000000L)]
        [InlineData("1E0", 1000000000L)]
        public void NanoCpus_parse_like_big_rat(string text, long nano) => Assert.Equal(nano, ComposeUnits.ParseNanoCpus(text));

        [Theory]
        [InlineData("0.0000000001", "value is too precise")]
        [InlineData("1/3", "value is too precise")]
        [InlineData("1e-10", "value is too precise")]
        [InlineData("abc", "failed to parse abc as a rational number")]
        [InlineData("", "failed to parse  as a rational number")]
        [InlineData("1.2.3", "failed to parse 1.2.3 as a rational number")]
        [InlineData("0.5 ", "failed to parse 0.5  as a rational number")]
        [InlineData(" 0.5", "failed to parse  0.5 as a rational number")]
        [InlineData("1e", "failed to parse 1e as a rational number")]
        [InlineData("1/0", "failed to parse 1/0 as a rational number")]
        [InlineData("1/-2", "failed to parse 1/-2 as a rational number")]
        [InlineData("1.5/2", "failed to parse 1.5/2 as a rational number")]
        [InlineData("08/1", "failed to parse 08/1 as a rational number")]
        [InlineData("1__0", "failed to parse 1__0 as a rational number")]
        [InlineData("_1", "failed to parse _1 as a rational number")]
        [InlineData("0x", "failed to parse 0x as a rational number")]
        [InlineData("2 cpus", "failed to parse 2 cpus as a rational number")]
        [InlineData("50%", "failed to parse 50% as a rational number")]
        [InlineData("1e100", "value out of range")]
        public void NanoCpus_errors(string text, string message)
        {
            var ex = Assert.Throws<FormatException>(() => ComposeUnits.ParseNanoCpus(text));
            Assert.Equal(message, ex.Message);
        }

        // ---------------------------------------------------------------- scalars

        [Theory]
        [InlineData("y", true)] [InlineData("Yes", true)] [InlineData("TRUE", true)] [InlineData("on", true)]
        [InlineData("n", false)] [InlineData("NO", false)] [InlineData("False", false)] [InlineData("off", false)]
        public void Compose_bool_cast(string text, bool expected)
        {
            Assert.True(ComposeUnits.TryParseComposeBool(text, out bool b));
            Assert.Equal(expected, b);
        }

        [Theory]
        [InlineData("1")] [InlineData("")] [InlineData("yess")] [InlineData("t")]
        public void Compose_bool_cast_rejects(string text) => Assert.False(ComposeUnits.TryParseComposeBool(text, out _));

        [Theory]
        [InlineData("42", 42L)] [InlineData("0440", 288L)] [InlineData("0o440", 288L)] [InlineData("0x1F", 31L)]
        [InlineData("0b101", 5L)] [InlineData("1_000", 1000L)] [InlineData("-12", -12L)] [InlineData("+7", 7L)] [InlineData("0", 0L)]
        public void Yaml_int_resolution(string text, long expected)
        {
            Assert.True(ComposeUnits.TryParseYamlInt(text, out long v));
            Assert.Equal(expected, v);
        }

        [Theory]
        [InlineData("08")] [InlineData("1.0")] [InlineData("abc")] [InlineData("")] [InlineData("0x")] [InlineData("9223372036854775808")]
        public void Yaml_int_resolution_rejects(string text) => Assert.False(ComposeUnits.TryParseYamlInt(text, out _));

        [Theory]
        [InlineData("1.5", 1.5)] [InlineData(".5", 0.5)] [InlineData("1e3", 1000.0)] [InlineData("0x1p-2", 0.25)]
        [InlineData("1_0.5", 10.5)] [InlineData("-2", -2.0)]
        public void Go_float(string text, double expected)
        {
            Assert.True(ComposeUnits.TryParseGoFloat(text, out double d, out _));
            Assert.Equal(expected, d);
        }

        [Theory]
        [InlineData("0x10")] [InlineData("1e")] [InlineData("_1")] [InlineData("1_")] [InlineData("1.5.")] [InlineData(" 1")]
        public void Go_float_rejects(string text) => Assert.False(ComposeUnits.TryParseGoFloat(text, out _, out _));

        // ---------------------------------------------------------------- env_file (docker/cli pkg/kvfile)

        private static readonly Func<string, (bool Found, string Value)> Env =
            ComposeInterpolation.LookupFrom(new Dictionary<string, string> { ["INHERIT"] = "fromenv", ["EMPTYENV"] = "" });

        private static List<KeyValuePair<string, string>> Kv(string text) =>
            ComposeEnvFile.ParseKeyValueFile(Encoding.UTF8.GetBytes(text), "app.env", Env);

        [Fact]
        public void KvFile_keeps_values_verbatim()
        {
            var pairs = Kv("\uFEFF# comment\n\n   FOO=bar \nQUOTED=\"x y\"\nSINGLE='z'\nEMPTY=\nINHERIT\nMISSING\nEMPTYENV\nA=b=c\r\n\tTABBED=1\nHASH=a # not a comment\nDOLLAR=$HOME\n  # indented comment\nLAST=no newline");
            Assert.Equal(new[]
            {
                "FOO=bar ", "QUOTED=\"x y\"", "SINGLE='z'", "EMPTY=", "INHERIT=fromenv", "EMPTYENV=", "A=b=c", "TABBED=1",
                "HASH=a # not a comment", "DOLLAR=$HOME", "LAST=no newline",
            }, pairs.Select(p => p.Key + "=" + p.Value).ToArray());
        }

        [Fact]
        public void KvFile_bare_key_without_lookup_is_dropped()
        {
            var pairs = ComposeEnvFile.ParseKeyValueFile(Encoding.UTF8.GetBytes("A\nB=1\n"), "f", null);
            Assert.Equal(new[] { "B" }, pairs.Select(p => p.Key).ToArray());
        }

        [Theory]
        [InlineData("A=1\nFOO BAR=1\n", 2, "invalid env file (app.env): line 2: variable 'FOO BAR' contains whitespaces")]
        [InlineData("export X=1\n", 1, "invalid env file (app.env): line 1: variable 'export X' contains whitespaces")]
        [InlineData("A=1\n\n=x\n", 3, "invalid env file (app.env): line 3: no variable name on line '=x'")]
        [InlineData("  =x\n", 1, "invalid env file (app.env): line 1: no variable name on line '=x'")]
        [InlineData("FOO \n", 1, "invalid env file (app.env): line 1: variable 'FOO ' contains whitespaces")]
        [InlineData("FOO\t=1\n", 1, "invalid env file (app.env): line 1: variable 'FOO\t' contains whitespaces")]
        public void KvFile_errors_name_file_and_line(string text, int line, string message)
        {
            var ex = Assert.Throws<ComposeEnvFileException>(() => Kv(text));
            Assert.Equal("app.env", ex.FileName);
            Assert.Equal(line, ex.Line);
            Assert.Equal(message, ex.Message);
        }

        [Fact]
        public void KvFile_rejects_invalid_utf8()
        {
            var bytes = new byte[] { (byte)'A', (byte)'=', (byte)'1', (byte)'\n', (byte)'B', (byte)'=', 0xFF, 0xFE, (byte)'\n' };
            var ex = Assert.Throws<ComposeEnvFileException>(() => ComposeEnvFile.ParseKeyValueFile(bytes, "x.env", null));
            Assert.Equal(2, ex.Line);
            Assert.Equal("invalid env file (x.env): invalid utf8 bytes at line 2: [66 61 255 254]", ex.Message);
        }

        [Fact]
        public void KvFile_rejects_lines_of_64k()
        {
            Assert.Single(Kv("A=" + new string('x', 65533) + "\n"));     // 65536 bytes with the newline: fits
            var ex = Assert.Throws<ComposeEnvFileException>(() => Kv("A=" + new string('x', 65534) + "\n"));
            Assert.Contains("bufio.Scanner: token too long", ex.Message);
        }

        [Fact]
        public void KvFile_reads_from_disk_and_reports_missing_files()
        {
            string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "swarmadmin-envtest-" + Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(dir);
            try
            {
                string file = System.IO.Path.Combine(dir, "a.env");
                System.IO.File.WriteAllBytes(file, new byte[] { 0xEF, 0xBB, 0xBF, (byte)'K', (byte)'=', (byte)'v', (byte)'\r', (byte)'\n' });
                var pairs = ComposeEnvFile.ReadKeyValueFile(file, null);
                Assert.Equal("K", pairs.Single().Key);
                Assert.Equal("v", pairs.Single().Value);

                string missing = System.IO.Path.Combine(dir, "nope.env");
                var ex = Assert.Throws<ComposeEnvFileException>(() => ComposeEnvFile.ReadKeyValueFile(missing, null));
                Assert.Equal($"open {missing}: no such file or directory", ex.Message);
            }
            finally
            {
                System.IO.Directory.Delete(dir, true);
            }
        }

        // ---------------------------------------------------------------- environment resolution

        [Fact]
        public void ResolveEnvironment_follows_the_cli()
        {
            var files = new[] { Pair("A", "1"), Pair("B", ""), Pair("A", "2"), Pair("Z", "file") };
            var environment = new[] { Pair("C", null), Pair("D", ""), Pair("B", "x"), Pair("E", null), Pair("Z", "svc") };
            var lookup = ComposeInterpolation.LookupFrom(new Dictionary<string, string> { ["B"] = "envB", ["C"] = "envC", ["D"] = "envD", ["A"] = "envA" });
            var env = ComposeEnvFile.ResolveEnvironment(files, environment, lookup);
            Assert.Equal(new[] { "A=2", "B=x", "C=envC", "D=envD", "E", "Z=svc" }, env.ToArray());
        }

        [Fact]
        public void EnvironmentEntries_from_map_and_list()
        {
            var map = (OrderedDictionary)YamlText.Parse("A: 1\nB:\nC: ''\n");
            Assert.Equal(new[] { Pair("A", "1"), Pair("B", null), Pair("C", "") }, ComposeEnvFile.EnvironmentEntries(map).ToArray());
            var list = YamlText.Parse("- A=1\n- B\n- C=\n- D=x=y\n");
            Assert.Equal(new[] { Pair("A", "1"), Pair("B", null), Pair("C", ""), Pair("D", "x=y") }, ComposeEnvFile.EnvironmentEntries(list).ToArray());
        }

        [Fact]
        public void Utf8_sort_order_puts_astral_after_bmp()
        {
            var list = new List<string> { "\U0001F600", "\uFF01", "b", "a", "ab" };
            list.Sort(ComposeEnvFile.CompareUtf8);
            Assert.Equal(new[] { "a", "ab", "b", "\uFF01", "\U0001F600" }, list.ToArray());
        }

        private static KeyValuePair<string, string> Pair(string k, string v) => new KeyValuePair<string, string>(k, v);

        // ---------------------------------------------------------------- .env (compose-go dotenv, opt-in)

        [Fact]
        public void DotEnv_follows_docker_compose_rules()
        {
            const string text = "\uFEFF# comment\n" +
                                "export A=1\n" +
                                "B=\"x y\"\n" +
                                "C='lit $A \\n'\n" +
                                "D=\"line1\\nline2\"\n" +
                                "E=plain value # comment\n" +
                                "F=${A}-${UNSET:-def}\n" +
                                "G=\"esc \\$A and \\\"q\\\"\"\n" +
                                "H: yaml style\n" +
                                "I\n" +
                                "J=\"multi\nline\"\n" +
                                "K = spaced \n" +
                                "L=a#b\n" +
                                "M='it\\'s'\n" +
                                "N=\"\\0101\"\n" +
                                "O=\n" +
                                "P=$$A\n" +
                                "a.b-c[0]=ok\n" +
                                "NOTSET\n" +
                                "A=2\n";
            var env = ComposeInterpolation.LookupFrom(new Dictionary<string, string> { ["I"] = "env" });
            var result = ComposeEnvFile.ParseDotEnv(text, ".env", env).ToDictionary(p => p.Key, p => p.Value);
            Assert.Equal("2", result["A"]);
            Assert.Equal("x y", result["B"]);
            Assert.Equal("lit $A \\n", result["C"]);
            Assert.Equal("line1\nline2", result["D"]);
            Assert.Equal("plain value", result["E"]);
            Assert.Equal("1-def", result["F"]);
            Assert.Equal("esc $A and \"q\"", result["G"]);
            Assert.Equal("yaml style", result["H"]);
            Assert.Equal("env", result["I"]);
            Assert.Equal("multi\nline", result["J"]);
            Assert.Equal("spaced", result["K"]);
            Assert.Equal("a#b", result["L"]);
            Assert.Equal("it's", result["M"]);
            Assert.Equal("A", result["N"]);
            Assert.Equal("", result["O"]);
            Assert.Equal("$A", result["P"]);
            Assert.Equal("ok", result["a.b-c[0]"]);
            Assert.False(result.ContainsKey("NOTSET"));
        }

        [Fact]
        public void DotEnv_process_environment_wins_in_expansion()
        {
            var env = ComposeInterpolation.LookupFrom(new Dictionary<string, string> { ["A"] = "shell" });
            var result = ComposeEnvFile.ParseDotEnv("A=file\nB=$A\n", ".env", env).ToDictionary(p => p.Key, p => p.Value);
            Assert.Equal("file", result["A"]);
            Assert.Equal("shell", result["B"]);
        }

        [Theory]
        [InlineData("A=1\nB=\"open\nC=2\n", 2, "invalid env file (.env): line 2: unterminated quoted value \"open")]
        [InlineData("A=1\nB%=1\n", 2, "invalid env file (.env): line 2: unexpected character \"%\" in variable name \"B%=1\"")]
        [InlineData("A B=1\n", 1, "invalid env file (.env): line 1: key cannot contain a space")]
        [InlineData("A=1\nB=${C?need C}\n", 2, "invalid env file (.env): line 2: invalid interpolation format for B: \"required variable C is missing a value: need C\"; you may need to escape any $ with another $")]
        public void DotEnv_errors(string text, int line, string message)
        {
            var ex = Assert.Throws<ComposeEnvFileException>(() => ComposeEnvFile.ParseDotEnv(text, ".env", null));
            Assert.Equal(line, ex.Line);
            Assert.Equal(message, ex.Message);
        }
    }
}
