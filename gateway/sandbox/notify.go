package sandbox

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// notifyJob delivers one status change of one order to its notify_url,
// retrying like the real gateway: the n-th retry comes n·NotifyStep after
// the previous attempt (30 s, 60 s, 90 s… after each other), and none is
// made once NotifyGiveUp has passed since the first attempt.
type notifyJob struct {
	s      *Server
	o      *order
	key    gateway.Key
	url    string
	ordNo  string
	outNo  string
	status gateway.Status
	copies int
	first  time.Time
	n      int // attempts made
}

// notifyAll starts the notifies of status changes. Call without s.mu held.
func (s *Server) notifyAll(trs []transition) {
	for _, tr := range trs {
		s.startNotify(tr)
	}
}

func (s *Server) startNotify(tr transition) {
	s.mu.Lock()
	o := tr.o
	j := &notifyJob{s: s, o: o, key: o.st.key, url: o.notifyURL, ordNo: o.ordNo, outNo: o.outNo, status: tr.status,
		copies: 1 + s.cfg.DuplicateNotifies}
	mg := o.magic
	s.mu.Unlock()
	if j.url == "" {
		return
	}
	if s.cfg.DropNotifies || mg == magicNotifyNever {
		s.log.Info("Sandbox notify dropped on purpose", orderAttrs(o)...)
		return
	}
	if mg == magicNotifyTriple {
		j.copies = max(j.copies, 3)
	}
	var delay time.Duration
	if mg == magicNotifyDelay {
		delay = s.cfg.NotifyDelay
	}
	s.after(delay, j.attempt)
}

// attempt sends one round of copies and schedules the next attempt unless
// one copy was answered notify_success.
func (j *notifyJob) attempt() {
	s := j.s
	now := s.now()
	if j.n == 0 {
		j.first = now
	}
	j.n++
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		delivered bool
	)
	for range j.copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if j.send(now) {
				mu.Lock()
				delivered = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	j.o.notifies = append(j.o.notifies, NotifyAttempt{At: now, Status: j.status, Copies: j.copies, Delivered: delivered})
	s.mu.Unlock()
	if delivered {
		return
	}
	// Sum of the intervals so far: step·(1+2+…+n).
	next := j.first.Add(s.cfg.NotifyStep * time.Duration(j.n*(j.n+1)/2))
	if next.Sub(j.first) > s.cfg.NotifyGiveUp {
		s.log.Warn("Sandbox notify given up", "ord_no", j.ordNo, "attempts", j.n)
		return
	}
	s.after(next.Sub(s.now()), j.attempt)
}

// send makes one GET with a freshly signed query and reports whether the
// answer was notify_success.
func (j *notifyJob) send(now time.Time) bool {
	s := j.s
	q := gateway.CallbackQuery(j.key, gateway.Callback{
		OrdNo: j.ordNo, OutNo: j.outNo, Status: j.status, Timestamp: now, RandStr: s.randString(128, alnum),
	})
	u := j.url
	if strings.Contains(u, "?") {
		u += "&" + q.Encode()
	} else {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		s.log.Warn("Sandbox notify URL unusable", "ord_no", j.ordNo, "error", err)
		return false
	}
	req.Header.Set("User-Agent", "sandbox-gateway-notify/1")
	resp, err := s.cfg.NotifyClient.Do(req)
	if err != nil {
		s.log.Info("Sandbox notify failed", "ord_no", j.ordNo, "attempt", j.n, "error", err)
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	ok := gateway.IsNotifySuccess(body)
	s.log.Debug("Sandbox notify delivered", "ord_no", j.ordNo, "attempt", j.n, "http_status", resp.StatusCode, "accepted", ok)
	return ok
}
