using System.IO;
using SwarmAdmin.Infrastructure;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class DesktopAssemblyResolverTests
    {
        // the test's output folder holds the module's dependencies, as the module's bin folder does
        private static readonly string Bin = Path.GetDirectoryName(typeof(DesktopAssemblyResolver).Assembly.Location);
        private static readonly string YamlToken = "ec19458f3c15af5e";

        [Fact]
        public void ServesTheShippedCopyWhateverVersionIsAsked()
        {
            var a = DesktopAssemblyResolver.Resolve(Bin, $"YamlDotNet, Version=99.0.0.0, Culture=neutral, PublicKeyToken={YamlToken}");
            Assert.NotNull(a);
            Assert.Equal("YamlDotNet", a.GetName().Name);
            Assert.Equal(Bin, Path.GetDirectoryName(a.Location));
        }

        [Fact]
        public void ServesASimpleName()
        {
            Assert.Equal("YamlDotNet", DesktopAssemblyResolver.Resolve(Bin, "YamlDotNet")?.GetName().Name);
        }

        [Theory]
        [InlineData("YamlDotNet, Version=1.0.0.0, Culture=neutral, PublicKeyToken=0123456789abcdef")]   // another publisher's assembly of that name
        [InlineData("NoSuchAssembly, Version=1.0.0.0")]
        [InlineData("..\\..\\evil")]
        [InlineData("")]
        [InlineData("not, a, valid=name=")]
        public void AnswersNothingForWhatIsNotShipped(string name)
        {
            Assert.Null(DesktopAssemblyResolver.Resolve(Bin, name));
        }

        [Fact]
        public void AnswersNothingWithoutAFolder()
        {
            Assert.Null(DesktopAssemblyResolver.Resolve(null, "YamlDotNet"));
        }
    }
}
