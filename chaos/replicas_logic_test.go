package chaos

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
)

// The replicas drive's own machinery, on made-up states: the stream check
// reports each defect and passes a healthy stream; the peer lookup finds
// the process holding a connection; the front spreads requests round
// robin and skips a replica that refuses connections.

func TestStreamsCheck(t *testing.T) {
	cases := []struct {
		name        string
		view        checkoutView
		shown       string // the stream's final status, "" for none
		wantFinding bool
	}{
		{"paid, stream never final", checkoutView{Status: "paid"}, "", true},
		{"expired, stream never final", checkoutView{Status: "expired"}, "", true},
		{"refunded, stream never final", checkoutView{Status: "refunded"}, "", true},
		{"stream paid, checkout expired", checkoutView{Status: "expired"}, "paid", true},
		{"stream expired, checkout paid in time", checkoutView{Status: "paid"}, "expired", true},
		{"stream cancelled, checkout refunded in time", checkoutView{Status: "refunded"}, "cancelled", true},
		{"healthy: paid, then refunded", checkoutView{Status: "refunded"}, "paid", false},
		{"healthy: expired, then paid late", checkoutView{Status: "paid", Late: true}, "expired", false},
		{"healthy: cancelled", checkoutView{Status: "cancelled"}, "cancelled", false},
		{"healthy: still open, stream open", checkoutView{Status: "pending"}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ss := &streams{byID: map[string]*stream{fakeID: {final: tc.shown, opens: 2, cut: 1}}}
			v := tc.view
			st := &state{views: map[string]*checkoutView{fakeID: &v}}
			f := findings{}
			open, cut := ss.check(st, f)
			if got := len(f[invStreams]) > 0; got != tc.wantFinding {
				t.Fatalf("finding = %v, want %v: %s", got, tc.wantFinding, f)
			}
			if cut != 1 || (open == 1) != (tc.shown == "") {
				t.Errorf("open %d, cut %d for a stream showing %q", open, cut, tc.shown)
			}
		})
	}
}

func TestPidOfPeer(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp: not Linux")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := <-accepted
	if sc == nil {
		t.Fatal("no connection accepted")
	}
	defer sc.Close()
	me := os.Getpid()
	if got := pidOfPeer(sc.RemoteAddr().String(), []int{me + 1_000_000, me}); got != me {
		t.Errorf("pidOfPeer(%s) = %d, want this process %d", sc.RemoteAddr(), got, me)
	}
	if got := pidOfPeer(sc.RemoteAddr().String(), []int{me + 1_000_000}); got != 0 {
		t.Errorf("pidOfPeer among other processes = %d, want 0", got)
	}
	if got := pidOfPeer("garbage", []int{me}); got != 0 {
		t.Errorf("pidOfPeer(garbage) = %d, want 0", got)
	}
}

func TestFrontRoundRobinSkipsDead(t *testing.T) {
	var hits [2]atomic.Int64
	var backends []*url.URL
	for i := range 2 {
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits[i].Add(1) }))
		defer srv.Close()
		u, _ := url.Parse(srv.URL)
		backends = append(backends, u)
	}
	// The third replica is dead: its port refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	ln.Close()
	backends = append(backends, dead)

	f := newFrontProxy(t)
	f.setPool(backends)
	codes := map[int]int{}
	for range 30 {
		resp, err := http.Get(f.url() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	// Only the requests sent to the dead one before it was found dead fail.
	if codes[http.StatusBadGateway] != 1 || codes[http.StatusOK] != 29 {
		t.Errorf("answers %v, want one 502 (the dead replica found) and 29 200s", codes)
	}
	if a, b := hits[0].Load(), hits[1].Load(); a < 14 || b < 14 {
		t.Errorf("hits %d and %d: the live replicas did not share the requests", a, b)
	}
	if n := len(*f.pool.Load()); n != 2 {
		t.Errorf("pool has %d replicas, want the 2 live ones", n)
	}
	if f.requests.Load() != 30 || f.failed.Load() != 1 {
		t.Errorf("counted %d requests, %d failed; want 30 and 1", f.requests.Load(), f.failed.Load())
	}
}
