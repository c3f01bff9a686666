package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/wallet-checkout/checkout/internal/hostclass"
)

// ErrForbiddenAddress means a webhook URL resolved to an address deliveries
// may not reach (private, loopback, link-local, unspecified…).
var ErrForbiddenAddress = errors.New("webhook: destination address not allowed")

// guardControl runs after DNS resolution, on the address actually dialed,
// so a name that resolves to a public address when checked and to a
// private one when used (DNS rebinding) is still refused.
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbiddenAddress, address)
	}
	if class := hostclass.OfAddr(ap.Addr()); class.Internal() {
		return fmt.Errorf("%w: %s (%s)", ErrForbiddenAddress, ap.Addr(), class)
	}
	return nil
}

// newHTTPClient is the delivery client: GuardedClient with the service's
// timeout and setting.
func (s *Service) newHTTPClient() *http.Client {
	return GuardedClient(s.timeout, s.allowPriv)
}

// GuardedClient is the client the service uses for a merchant's URL
// (webhook deliveries, the logos fetched at start): no proxy (a proxy
// would dial for us, past the guard), no redirects (a 3xx is the
// merchant's error, and following it could lead anywhere), the dial guard
// against internal addresses unless allowPrivate, and timeout on the
// whole request.
func GuardedClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
