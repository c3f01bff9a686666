// Package hostclass is the one answer to "may the service send a request
// to this host on a merchant's behalf?". The merchants file, the create API
// and the webhook dialer all ask it, so a URL accepted at configuration or
// at creation is never one the dialer refuses at every delivery, and the
// other way round.
package hostclass

import (
	"net/netip"
	"strings"
)

// Class is what a host (a name or a literal address) is.
type Class int

// The classes. Every class but Public and Name is internal: the service's
// own machine or network, or addresses that are not real destinations.
const (
	// Public is a literal address on the public internet.
	Public Class = iota
	// Name is a DNS name other than localhost: its addresses are known only
	// when it is resolved, so the dialer checks them again then.
	Name
	// Localhost is "localhost" or a name under .localhost (RFC 6761).
	Localhost
	// Loopback is 127.0.0.0/8 or ::1.
	Loopback
	// Private is RFC 1918 or a unique local IPv6 address (fc00::/7).
	Private
	// LinkLocal is 169.254.0.0/16, fe80::/10 or link-local multicast: cloud
	// metadata services live here.
	LinkLocal
	// Unspecified is 0.0.0.0 or ::.
	Unspecified
	// Multicast is any other multicast address.
	Multicast
	// Reserved is a range netip does not classify but a public URL has no
	// business reaching: "this network", carrier-grade NAT, benchmarking,
	// 240/4, NAT64 and 6to4 (which may embed a private IPv4), site-local,
	// discard-only.
	Reserved
	// Invalid is an address that does not parse.
	Invalid
)

var names = [...]string{"public", "name", "localhost", "loopback", "private", "link-local", "unspecified", "multicast", "reserved", "invalid"}

// String names the class for messages and logs.
func (c Class) String() string {
	if c < 0 || int(c) >= len(names) {
		return "invalid"
	}
	return names[c]
}

// Internal reports whether requests to the class must be refused when
// private destinations are not allowed.
func (c Class) Internal() bool { return c != Public && c != Name }

// reserved are the ranges, beyond what netip classifies, that a public
// webhook URL has no business reaching.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: may embed a private v4
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4: may embed a private v4
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("100::/64"),       // discard-only
	// IPv6 special-purpose ranges (IANA registry) and the forms that embed
	// an IPv4 address, which a dialer may route to it.
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated): ::127.0.0.1
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo (embeds a v4) among them
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs
}

// Of classifies a URL's host: a name, or a literal address with or without
// the brackets of an IPv6 literal. Case and a trailing dot do not matter.
func Of(host string) Class {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return Localhost
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	if err != nil {
		return Name
	}
	return OfAddr(ip)
}

// OfAddr classifies an address; an IPv4-mapped IPv6 address is classified
// as the IPv4 address it carries.
func OfAddr(ip netip.Addr) Class {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return Invalid
	case ip.IsLoopback():
		return Loopback
	case ip.IsPrivate():
		return Private
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return LinkLocal
	case ip.IsUnspecified():
		return Unspecified
	case ip.IsInterfaceLocalMulticast(), ip.IsMulticast():
		return Multicast
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return Reserved
		}
	}
	return Public
}
