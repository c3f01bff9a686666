package porttest

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestRefusingRefuses(t *testing.T) {
	addr := Refusing(t)
	for i := range 20 {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = c.Close()
			t.Fatalf("dial %d to %s succeeded", i, addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %d to %s: %v, want ECONNREFUSED", i, addr, err)
		}
	}
}

func TestRefusingHoldsThePort(t *testing.T) {
	addr := Refusing(t)
	for _, network := range []string{"tcp", "tcp4"} {
		ln, err := net.Listen(network, addr)
		if err == nil {
			_ = ln.Close()
			t.Fatalf("net.Listen(%q, %s) succeeded while the port is held", network, addr)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("net.Listen(%q, %s): %v, want EADDRINUSE", network, addr, err)
		}
	}
}

func TestRefusingReleasesAtCleanup(t *testing.T) {
	var addr string
	t.Run("hold", func(t *testing.T) { addr = Refusing(t) })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		// Another test process may have taken the freed port; only a
		// port still held by this one would be a failure.
		if errors.Is(err, syscall.EADDRINUSE) {
			t.Skipf("port %s taken again after release: %v", addr, err)
		}
		t.Fatal(err)
	}
	_ = ln.Close()
}

func TestRefusingDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 10 {
		a := Refusing(t)
		if seen[a] {
			t.Fatalf("address %s handed out twice while held", a)
		}
		seen[a] = true
	}
}
