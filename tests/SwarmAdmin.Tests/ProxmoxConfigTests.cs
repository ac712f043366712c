using System;
using System.Linq;
using System.Text.Json;
using SwarmAdmin.Proxmox;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class ProxmoxConfigTests
    {
        private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

        // ---------- JsonRead ----------

        [Fact]
        public void JsonRead_is_lenient_about_numbers_strings_and_booleans()
        {
            JsonElement o = Json("{\"cores\":2,\"memory\":\"4096\",\"onboot\":1,\"template\":\"1\",\"agent\":\"0\",\"ha\":true,\"cpu\":0.25,\"cpus\":\"2.0\","
                + "\"vmid\":101,\"name\":\"m1\",\"pid\":null,\"big\":5000000000,\"bad\":\"abc\",\"empty\":\"\"}");
            Assert.Equal(2, JsonRead.Int(o, "cores"));
            Assert.Equal(4096, JsonRead.Int(o, "memory"));
            Assert.Equal(4096L, JsonRead.Long(o, "memory"));
            Assert.True(JsonRead.Bool(o, "onboot"));
            Assert.True(JsonRead.Bool(o, "template"));
            Assert.False(JsonRead.Bool(o, "agent"));
            Assert.True(JsonRead.Bool(o, "ha"));
            Assert.Equal(0.25, JsonRead.Double(o, "cpu"));
            Assert.Equal(2, JsonRead.Int(o, "cpus"));
            Assert.Equal("101", JsonRead.String(o, "vmid"));
            Assert.Equal("1", JsonRead.String(o, "ha"));
            Assert.Equal("m1", JsonRead.String(o, "name"));
            Assert.Null(JsonRead.Int(o, "pid"));
            Assert.Null(JsonRead.Int(o, "missing"));
            Assert.Null(JsonRead.String(o, "missing"));
            Assert.Null(JsonRead.Int(o, "empty"));
            Assert.Equal(5000000000L, JsonRead.Long(o, "big"));
            Assert.Contains("'big'", Assert.Throws<FormatException>(() => JsonRead.Int(o, "big")).Message);
            Assert.Contains("'bad'", Assert.Throws<FormatException>(() => JsonRead.Int(o, "bad")).Message);
            Assert.Throws<FormatException>(() => JsonRead.Bool(o, "bad"));
            Assert.Null(JsonRead.Int(Json("null"), "x"));
            Assert.Equal(101, JsonRead.AsInt(Json("\"101\"")));
            Assert.Equal(101, JsonRead.AsInt(Json("101")));
        }

        // ---------- net ----------

        [Fact]
        public void Net_parses_and_formats_canonically()
        {
            var net = ProxmoxNetConfig.Parse("virtio=bc:24:11:2a:3b:4c,bridge=vmbr0,tag=4,mtu=1450,firewall=1,queues=4");
            Assert.Equal("virtio", net.Model);
            Assert.Equal("BC:24:11:2A:3B:4C", net.MacAddress);
            Assert.Equal("vmbr0", net.Bridge);
            Assert.Equal(4, net.Tag);
            Assert.Equal(1450, net.Mtu);
            Assert.True(net.Firewall);
            Assert.Equal("4", net.Other.Single(kv => kv.Key == "queues").Value);
            Assert.Equal("virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1,mtu=1450,queues=4,tag=4", net.ToString());

            var explicitForm = ProxmoxNetConfig.Parse("model=e1000,macaddr=BC:24:11:00:00:01,bridge=vmbr1");
            Assert.Equal("e1000=BC:24:11:00:00:01,bridge=vmbr1", explicitForm.ToString());

            var noMac = new ProxmoxNetConfig { Bridge = "vmbr0", Tag = 4 };
            Assert.Equal("model=virtio,bridge=vmbr0,tag=4", noMac.ToString());

            Assert.True(ProxmoxNetConfig.SameMac("bc:24:11:2a:3b:4c", "BC:24:11:2A:3B:4C"));
            Assert.Throws<FormatException>(() => ProxmoxNetConfig.Parse("virtio=zz:24:11:2a:3b:4c,bridge=vmbr0"));
            Assert.Throws<FormatException>(() => ProxmoxNetConfig.Parse("bridge=vmbr0"));
            Assert.Throws<FormatException>(() => ProxmoxNetConfig.Parse("virtio,tag=x"));
        }

        // ---------- ipconfig ----------

        [Fact]
        public void Ipconfig_builds_parses_and_validates()
        {
            var ip = ProxmoxIpConfig.Parse("ip=10.0.0.5/24,gw=10.0.0.1");
            Assert.Equal("10.0.0.5/24", ip.Ip);
            Assert.Equal("10.0.0.1", ip.Gateway);
            Assert.Equal("10.0.0.5", ip.Address);
            Assert.Equal(24, ip.PrefixLength);
            Assert.Equal("ip=10.0.0.5/24,gw=10.0.0.1", ip.ToString());
            Assert.Equal("ip=10.0.0.5/24,gw=10.0.0.1", ProxmoxIpConfig.Static("10.0.0.5/24", "10.0.0.1").ToString());
            Assert.Equal("ip=dhcp", ProxmoxIpConfig.Dhcp().ToString());
            Assert.Equal("ip=dhcp,ip6=auto", ProxmoxIpConfig.Parse("ip=dhcp,ip6=auto").ToString());
            Assert.Equal("ip6=fd00::5/64,gw6=fd00::1", new ProxmoxIpConfig { Ip6 = "fd00::5/64", Gateway6 = "fd00::1" }.ToString());

            Assert.Contains("needs an IPv4 address", Assert.Throws<FormatException>(() => new ProxmoxIpConfig { Gateway = "10.0.0.1" }.ToString()).Message);
            Assert.Contains("dhcp", Assert.Throws<FormatException>(() => new ProxmoxIpConfig { Ip = "dhcp", Gateway = "10.0.0.1" }.ToString()).Message);
            Assert.Throws<FormatException>(() => ProxmoxIpConfig.Static("10.0.0.5", "10.0.0.1").ToString()); // no prefix
            Assert.Throws<FormatException>(() => ProxmoxIpConfig.Static("10.0.0.5/33").ToString());
            Assert.Throws<FormatException>(() => ProxmoxIpConfig.Static("10.0.0.5/24", "fd00::1").ToString());
            Assert.Throws<FormatException>(() => ProxmoxIpConfig.Parse("ip=10.0.0.5/24,foo=1"));
        }

        // ---------- disks and sizes ----------

        [Theory]
        [InlineData("20G", 21474836480L)]
        [InlineData("512M", 536870912L)]
        [InlineData("1.5T", 1649267441664L)]
        [InlineData("4096K", 4194304L)]
        [InlineData("1000", 1000L)]
        [InlineData("30g", 32212254720L)]
        public void Sizes_parse_binary_units(string text, long bytes)
        {
            Assert.Equal(bytes, ProxmoxSize.ParseBytes(text));
        }

        [Fact]
        public void Sizes_format_and_validate_resize()
        {
            Assert.Equal("20G", ProxmoxSize.Format(21474836480L));
            Assert.Equal("1536M", ProxmoxSize.Format(1536L * 1024 * 1024));
            Assert.Equal("1T", ProxmoxSize.Format(1L << 40));
            Assert.Equal("1000", ProxmoxSize.Format(1000));
            Assert.True(ProxmoxSize.IsValidResize("+20G"));
            Assert.True(ProxmoxSize.IsValidResize("30G"));
            Assert.True(ProxmoxSize.IsValidResize("+1.5T"));
            Assert.False(ProxmoxSize.IsValidResize("-5G"));
            Assert.False(ProxmoxSize.IsValidResize("20GB"));
            Assert.Throws<FormatException>(() => ProxmoxSize.ParseBytes("20 GB"));
        }

        [Fact]
        public void Drives_parse_volume_size_and_media()
        {
            var d = ProxmoxDrive.Parse("local-lvm:base-9000-disk-0/vm-101-disk-0,size=20G,ssd=1");
            Assert.Equal("local-lvm:base-9000-disk-0/vm-101-disk-0", d.Volume);
            Assert.Equal("local-lvm", d.Storage);
            Assert.Equal("20G", d.Size);
            Assert.Equal(21474836480L, d.SizeBytes);
            Assert.Equal("1", d.Option("ssd"));
            Assert.False(d.IsCloudInit);
            Assert.Equal("local-lvm:base-9000-disk-0/vm-101-disk-0,size=20G,ssd=1", d.ToString());

            var ci = ProxmoxDrive.Parse("local-lvm:vm-101-cloudinit,media=cdrom");
            Assert.True(ci.IsCloudInit);
            Assert.True(ci.IsCdrom);
            Assert.Null(ci.SizeBytes);

            Assert.Equal("local:iso/x.iso", ProxmoxDrive.Parse("file=local:iso/x.iso,media=cdrom").Volume);
            Assert.True(ProxmoxDrive.IsDriveKey("scsi0"));
            Assert.True(ProxmoxDrive.IsDriveKey("efidisk0"));
            Assert.False(ProxmoxDrive.IsDriveKey("net0"));
            Assert.False(ProxmoxDrive.IsDriveKey("scsihw"));
        }

        // ---------- VM config view ----------

        [Fact]
        public void Vm_config_view_reads_the_reference_example()
        {
            var config = new ProxmoxVmConfig(Json(
                "{\"boot\":\"order=scsi0;ide2;net0\",\"cores\":2,\"sockets\":1,\"memory\":\"4096\",\"name\":\"swarm-m1\","
                + "\"net0\":\"virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,tag=4\",\"scsi0\":\"local-lvm:base-9000-disk-0/vm-101-disk-0,size=30G\","
                + "\"ide2\":\"local-lvm:vm-101-cloudinit,media=cdrom\",\"scsihw\":\"virtio-scsi-pci\",\"agent\":\"1\",\"ciuser\":\"swarm\","
                + "\"sshkeys\":\"ssh-ed25519%20AAAAC3Nz%20ops%40host\",\"ipconfig0\":\"ip=192.168.4.30/24,gw=192.168.4.1\",\"onboot\":1,"
                + "\"tags\":\"manager;swarm\",\"digest\":\"3f0c\"}"));
            Assert.Equal("swarm-m1", config.Name);
            Assert.Equal(2, config.Cores);
            Assert.Equal(4096, config.MemoryMiB);
            Assert.True(config.AgentEnabled);
            Assert.False(config.IsTemplate);
            Assert.True(config.HasCloudInitDrive);
            Assert.Equal(new[] { "ide2", "scsi0" }, config.Drives.Keys.OrderBy(k => k).ToArray());
            Assert.Equal(32212254720L, config.Drives["scsi0"].SizeBytes);
            Assert.Equal("BC:24:11:2A:3B:4C", config.Net(0).MacAddress);
            Assert.Equal("192.168.4.30", config.IpConfig(0).Address);
            Assert.Null(config.Net(1));
            Assert.Equal(new[] { "ssh-ed25519 AAAAC3Nz ops@host" }, config.SshKeys);
            Assert.Equal(new[] { "manager", "swarm" }, config.Tags);
            Assert.Equal("3f0c", config.Digest);

            var pve7 = new ProxmoxVmConfig(Json("{\"memory\":2048,\"agent\":\"enabled=1,fstrim_cloned_disks=1\",\"template\":1}"));
            Assert.Equal(2048, pve7.MemoryMiB);
            Assert.True(pve7.AgentEnabled);
            Assert.True(pve7.IsTemplate);
            Assert.False(pve7.HasCloudInitDrive);
            Assert.Equal(1024, new ProxmoxVmConfig(Json("{\"memory\":\"current=1024\"}")).MemoryMiB);
        }
    }
}
