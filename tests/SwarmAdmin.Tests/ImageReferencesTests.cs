using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>Image references normalised like github.com/distribution/reference (ParseNormalizedNamed, TagNameOnly, FamiliarString).</summary>
    public class ImageReferencesTests
    {
        private const string Sha = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
        private const string Hex64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

        [Theory]
        [InlineData("busybox", "busybox:latest")]
        [InlineData("busybox:1", "busybox:1")]
        [InlineData("docker.io/library/busybox:1", "busybox:1")]
        [InlineData("docker.io/busybox", "busybox:latest")]
        [InlineData("index.docker.io/library/x", "x:latest")]
        [InlineData("index.docker.io/user/x:2", "user/x:2")]
        [InlineData("library/busybox", "busybox:latest")]
        [InlineData("library/foo/bar", "library/foo/bar:latest")]  // nested library path stays
        [InlineData("user/app", "user/app:latest")]
        [InlineData("docker.io/user/app:v1.2", "user/app:v1.2")]
        [InlineData("localhost/app", "localhost/app:latest")]
        [InlineData("localhost:5000/x", "localhost:5000/x:latest")]
        [InlineData("registry.example.com:5000/shop/web:from-dotenv", "registry.example.com:5000/shop/web:from-dotenv")]
        [InlineData("127.0.0.1:5000/debian", "127.0.0.1:5000/debian:latest")]
        [InlineData("[fc00::1]:5000/docker", "[fc00::1]:5000/docker:latest")]
        [InlineData("Foo/bar", "Foo/bar:latest")]                   // uppercase first element is a domain
        [InlineData("192.168.0.1:80", "192.168.0.1:80")]            // a familiar name with tag "80"
        [InlineData("portainer/portainer-ce:2.21.4", "portainer/portainer-ce:2.21.4")]
        [InlineData("x@" + Sha, "x@" + Sha)]                         // digest kept, no tag added
        [InlineData("x:1@" + Sha, "x:1@" + Sha)]
        [InlineData("docker.io/library/busybox:latest@" + Sha, "busybox:latest@" + Sha)]
        [InlineData("docker.io/" + Hex64, Hex64 + ":latest")]       // a hex name is only refused without a domain
        public void Normalize_table(string image, string expected)
            => Assert.Equal(expected, ImageReferences.Normalize(image));

        [Theory]
        [InlineData("")]
        [InlineData("Busybox")]
        [InlineData("docker/Docker")]
        [InlineData("-docker")]
        [InlineData("docker///docker")]
        [InlineData("docker/")]
        [InlineData("https://github.com/docker/docker")]
        [InlineData("[fc00::1]:5000")]
        [InlineData("fc00::1:5000/debian")]
        [InlineData("[fe80::1%eth0]:5000/debian")]
        [InlineData("[2001:db8:3:4::192.0.2.33]:5000/debian")]
        [InlineData(Hex64)]
        [InlineData("dock..er/docker")]
        [InlineData("____/____")]
        [InlineData("x@sha256:abc")]                                  // too short for the digest pattern
        [InlineData("x@sha256:" + Hex64 + "00")]                      // wrong length for sha256
        [InlineData("x@md5:0123456789abcdef0123456789abcdef")]        // algorithm not available
        [InlineData("x@sha256:1A3F5E7D9C1B3A5F7E9D1C3B5A7F9E1D3C5B7A9F1E3D5D7C9B1A3F5E7D9C1B3A")] // go-digest wants lowercase hex
        [InlineData("x:-tag")]
        [InlineData("busybox:" + "t123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789")]
        public void Invalid_references_are_returned_unchanged(string image)
        {
            Assert.Equal(image, ImageReferences.Normalize(image));
            Assert.Null(ImageReferences.Domain(image));
            Assert.Null(ImageReferences.AuthKey(image));
            Assert.False(ImageReferences.HasDigest(image));
            Assert.Equal(image, ImageReferences.WithoutDigest(image));
            Assert.NotNull(ImageReferences.ParseError(image));
        }

        [Fact]
        public void Null_is_not_a_reference()
        {
            Assert.Null(ImageReferences.Normalize(null));
            Assert.Null(ImageReferences.Domain(null));
            Assert.False(ImageReferences.HasDigest(null));
            Assert.Null(ImageReferences.WithoutDigest(null));
        }

        [Theory]
        [InlineData("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase")]
        [InlineData(Hex64, "invalid repository name (" + Hex64 + "), cannot specify 64-byte hexadecimal strings")]
        [InlineData("-docker", "invalid reference format")]
        [InlineData("x@sha256:" + Hex64 + "00", "invalid checksum digest length")]
        [InlineData("x@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm")]
        [InlineData("busybox", null)]
        public void Parse_errors_use_the_library_wording(string image, string expected)
            => Assert.Equal(expected, ImageReferences.ParseError(image));

        [Fact]
        public void Repository_path_longer_than_255_is_rejected()
        {
            string longPath = "a/" + new string('b', 254);
            Assert.Equal("repository name must not be more than 255 characters", ImageReferences.ParseError(longPath));
        }

        [Theory]
        [InlineData("busybox", "docker.io")]
        [InlineData("user/app:1", "docker.io")]
        [InlineData("docker.io/library/busybox", "docker.io")]
        [InlineData("index.docker.io/user/app", "docker.io")]
        [InlineData("registry.example.com:5000/shop/web", "registry.example.com:5000")]
        [InlineData("registry.example.com/app", "registry.example.com")]
        [InlineData("localhost:5000/x", "localhost:5000")]
        [InlineData("localhost/x", "localhost")]
        [InlineData("LOCALDOMAIN/x", "LOCALDOMAIN")]
        [InlineData("[fc00::1]:5000/docker", "[fc00::1]:5000")]
        [InlineData("ghcr.io/org/app@" + Sha, "ghcr.io")]
        public void Domain_of_a_reference(string image, string expected)
            => Assert.Equal(expected, ImageReferences.Domain(image));

        [Theory]
        [InlineData("busybox", "https://index.docker.io/v1/")]
        [InlineData("index.docker.io/user/app", "https://index.docker.io/v1/")]
        [InlineData("docker.io/user/app", "https://index.docker.io/v1/")]
        [InlineData("registry.example.com:5000/shop/web", "registry.example.com:5000")]
        [InlineData("localhost:5000/x", "localhost:5000")]
        public void AuthKey_of_a_reference(string image, string expected)
            => Assert.Equal(expected, ImageReferences.AuthKey(image));

        [Theory]
        [InlineData("a:1@" + Sha, true, "a:1")]
        [InlineData("a@" + Sha, true, "a")]
        [InlineData("registry.example.com:5000/a/b:2@" + Sha, true, "registry.example.com:5000/a/b:2")]
        [InlineData("a:1", false, "a:1")]
        [InlineData("localhost:5000/x", false, "localhost:5000/x")]
        public void Digest_detection_and_removal(string image, bool hasDigest, string without)
        {
            Assert.Equal(hasDigest, ImageReferences.HasDigest(image));
            Assert.Equal(without, ImageReferences.WithoutDigest(image));
        }

        [Theory]
        [InlineData("docker/docker")]
        [InlineData("localhost/library/debian")]
        [InlineData("LOCALDOMAIN/library/debian")]
        [InlineData("index.docker.io/docker/docker")]
        [InlineData("127.0.0.1:5000/library/debian")]
        [InlineData("192.168.0.1")]
        [InlineData("192.168.0.1:8/debian")]
        [InlineData("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev")]
        [InlineData("[fc00:1:2:3:4:5:6:7]:5000/library/debian")]
        [InlineData("DOCKER/docker")]
        [InlineData("docker---rules/docker")]
        [InlineData("dock__er/docker")]
        [InlineData("d/docker")]
        public void Valid_names_from_the_reference_test_suite(string image)
            => Assert.Null(ImageReferences.ParseError(image));
    }
}
