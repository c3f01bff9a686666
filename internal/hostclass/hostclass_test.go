package hostclass

import (
	"net/netip"
	"testing"
)

func TestOf(t *testing.T) {
	for host, want := range map[string]Class{
		"localhost": Localhost, "LOCALHOST.": Localhost, "api.localhost": Localhost,
		"127.0.0.1": Loopback, "127.8.9.1": Loopback, "[::1]": Loopback, "::1": Loopback, "::ffff:127.0.0.1": Loopback,
		"10.1.2.3": Private, "172.16.0.1": Private, "192.168.1.1": Private, "fc00::1": Private, "[fd00::1]": Private, "::ffff:10.0.0.1": Private,
		"169.254.169.254": LinkLocal, "fe80::1": LinkLocal, "fe80::1%eth0": LinkLocal, "ff02::1": LinkLocal,
		"0.0.0.0": Unspecified, "::": Unspecified,
		"224.0.0.251": LinkLocal, "239.1.2.3": Multicast, "ff05::2": Multicast, "255.255.255.255": Reserved,
		"0.1.2.3": Reserved, "100.64.0.1": Reserved, "198.18.0.1": Reserved, "192.0.0.8": Reserved, "240.0.0.1": Reserved,
		"64:ff9b::a00:1": Reserved, "2002::1": Reserved, "fec0::1": Reserved, "100::1": Reserved,
		"8.8.8.8": Public, "1.1.1.1": Public, "203.0.114.1": Public, "2606:4700::1111": Public, "::ffff:8.8.8.8": Public,
		"100.128.0.1": Public, "172.32.0.1": Public,
		"hooks.example.com": Name, "localhost.example.com": Name, "127.1": Name, "": Name,
	} {
		if got := Of(host); got != want {
			t.Errorf("Of(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestInternal(t *testing.T) {
	for c := Public; c <= Invalid; c++ {
		if want := c != Public && c != Name; c.Internal() != want {
			t.Errorf("%v.Internal() = %v", c, c.Internal())
		}
		if c.String() == "" {
			t.Errorf("class %d has no name", c)
		}
	}
	if OfAddr(netip.Addr{}) != Invalid || !OfAddr(netip.Addr{}).Internal() {
		t.Error("the zero address is not refused")
	}
}

// TestSpecialPurposeIPv6: IPv6 forms that embed an IPv4 address, or that
// the IANA special-purpose registry sets apart, are internal: a webhook
// URL or a resolved name must not reach them (https://[::127.0.0.1] was
// let through to the dialer).
func TestSpecialPurposeIPv6(t *testing.T) {
	for _, host := range []string{
		"[::127.0.0.1]",     // IPv4-compatible (::/96), deprecated
		"[::10.0.0.7]",      // the same with a private v4
		"[::ffff:0:7f00:1]", // IPv4-translated (SIIT, ::ffff:0:0:0/96)
		"[2001::1]",         // Teredo (2001::/32): embeds a v4
		"[2001:db8::1]",     // documentation
		"[2001:10::1]",      // ORCHID (in 2001::/23, IETF assignments)
		"[3fff::1]",         // documentation (3fff::/20)
		"[5f00::1]",         // SRv6 SIDs
	} {
		if c := Of(host); !c.Internal() {
			t.Errorf("Of(%s) = %s, want internal", host, c)
		}
	}
	for _, host := range []string{"[2400:cb00::1]", "[2606:4700::1111]", "[240e::1]"} {
		if c := Of(host); c != Public {
			t.Errorf("Of(%s) = %s, want public", host, c)
		}
	}
}
