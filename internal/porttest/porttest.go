// Package porttest gives tests a loopback address where nothing listens and
// nothing can start listening while the test runs.
//
// The usual trick, the URL of an httptest server closed at once, races:
// once closed, its port is free, and with `go test -p 4` another package's
// test server can be given that port before the dial, so the test gets an
// HTTP answer instead of a connection error. Refusing instead holds the port
// bound (without listening) until the test ends: the kernel answers every
// connection with a reset, and no other socket can bind the port meanwhile.
//
// It uses the socket system calls of Linux (and the other Unix systems),
// which is where the project runs.
package porttest

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// Refusing returns "127.0.0.1:N", a TCP port this test holds bound but not
// listening until t ends: a dial to it fails at once with ECONNREFUSED.
//
// The socket is bound without SO_REUSEADDR, so net.Listen (which sets it)
// cannot bind the same port either.
func Refusing(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("porttest: socket: %v", err)
	}
	syscall.CloseOnExec(fd)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("porttest: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("porttest: getsockname: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok || in4.Port == 0 {
		t.Fatalf("porttest: bound to %#v, want an IPv4 port", sa)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port))
}
