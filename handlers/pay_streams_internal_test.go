package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// TestStreamCountsRelease: a stream gives its place and its opening read
// slot back however it ends (done, panicked, the client gone), a second
// release changes nothing, and the maps keep no key of a closed stream.
func TestStreamCountsRelease(t *testing.T) {
	lim := StreamLimits{PerProcess: 10, PerClient: 10, PerCheckout: 10, Reads: 1}
	h := &handler{pages: &pages{streams: newStreamCounts(lim), slots: make(readSlots, lim.Reads)}}
	r := gin.New()
	r.Use(gin.CustomRecovery(func(c *gin.Context, _ any) { c.AbortWithStatus(http.StatusInternalServerError) }))
	r.GET("/c/:id/events", h.admitStream, func(c *gin.Context) {
		switch c.Query("end") {
		case "panic":
			panic("stream broke")
		case "wait":
			openReadDone(c)
			openReadDone(c) // twice: harmless
			<-c.Request.Context().Done()
		}
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	const id = "co_AAAAAAAAAAAAAAAAAAAAAAAA"
	for _, end := range []string{"done", "panic", "wait"} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/c/"+id+"/events?end="+end, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		} else if end != "wait" {
			t.Fatal(err)
		}
		cancel()
		deadline := time.Now().Add(5 * time.Second)
		for {
			total, clients, checkouts := h.pages.streams.open()
			if total == 0 && clients == 0 && checkouts == 0 && len(h.pages.slots) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: left open %d (clients %d, checkouts %d), read slots taken %d", end, total, clients, checkouts, len(h.pages.slots))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestStreamCountsCaps: each cap counts on its own, and a released place
// is free again at once.
func TestStreamCountsCaps(t *testing.T) {
	s := newStreamCounts(StreamLimits{PerProcess: 3, PerClient: 2, PerCheckout: 2, Reads: 1})
	r1, ok1 := s.acquire("a", "x")
	_, ok2 := s.acquire("a", "y")
	_, ok3 := s.acquire("a", "z") // client a's third
	_, ok4 := s.acquire("b", "x")
	_, ok5 := s.acquire("c", "x") // checkout x's third
	_, ok6 := s.acquire("c", "w") // the process's fourth
	if !ok1 || !ok2 || ok3 || !ok4 || ok5 || ok6 {
		t.Fatalf("caps: %v %v %v %v %v %v", ok1, ok2, ok3, ok4, ok5, ok6)
	}
	r1()
	r1()
	if total, _, _ := s.open(); total != 2 {
		t.Fatalf("after a double release: %d open", total)
	}
	if _, ok := s.acquire("c", "w"); !ok {
		t.Fatal("released place not free")
	}
}

func TestJitterRange(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		d := jitter(pollRetryMin, pollRetryMax)
		if d < pollRetryMin || d > pollRetryMax {
			t.Fatalf("%v outside [%v, %v]", d, pollRetryMin, pollRetryMax)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct values", len(seen))
	}
}
