package webhook

import (
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestDescribeNamesNoInternalAddress: what a merchant reads of a failed
// delivery says what went wrong, never the service's own network (its DNS
// resolver, its source address) nor the URL.
func TestDescribeNamesNoInternalAddress(t *testing.T) {
	wrap := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://user:pw@hooks.shop.example/h?token=s3cret", Err: err}
	}
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Source: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 40000},
			Addr: &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 443}, Err: os.NewSyscallError("connect", err)}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"no such host", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.shop.example", Server: "10.0.0.2:53", IsNotFound: true}}), "no such host"},
		{"resolver timeout", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "hooks.shop.example", Server: "10.0.0.2:53", IsTimeout: true}}), "timeout"},
		{"resolver failure", wrap(&net.DNSError{Err: "server misbehaving", Name: "hooks.shop.example", Server: "[fd00::53]:53", IsTemporary: true}), "DNS"},
		{"refused", wrap(opErr(syscall.ECONNREFUSED)), "connection refused"},
		{"reset", wrap(opErr(syscall.ECONNRESET)), "connection reset"},
		{"unreachable", wrap(opErr(syscall.EHOSTUNREACH)), "unreachable"},
		{"closed", wrap(io.ErrUnexpectedEOF), "closed"},
		{"certificate", wrap(x509.UnknownAuthorityError{}), "certificate"},
		{"other", wrap(errors.New("dial tcp 10.1.2.3:40000->203.0.113.9:443: something odd")), "failed"},
	} {
		got := describe(tc.err)
		for _, leak := range []string{"10.0.0.2", "fd00::53", "10.1.2.3", "s3cret", "pw@"} {
			if strings.Contains(got, leak) {
				t.Errorf("%s: %q names %s", tc.name, got, leak)
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want it to say %q", tc.name, got, tc.want)
		}
	}
}
