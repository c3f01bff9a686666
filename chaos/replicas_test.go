package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// The replicas drive (issue 14): three replicas of the binary as child
// processes on one Redis topology, behind the test's round-robin front,
// with the sandbox gateway as a process of its own. While the chaos
// suite's traffic runs (creates, pays through the sandbox's payer console,
// notifies, refunds) and every checkout has a payer's event stream open
// through the front, one replica is kill -9ed with a webhook delivery in
// flight (held at the receiver, so that work it had claimed is certain to
// exist); the others must finish it once its lease runs out. Then the
// chaos suite's invariants must hold for every checkout, and every stream
// of a checkout at a final state must have shown that state (streams cut
// by the kill reconnect through the front to a live replica).

// topology is the Redis the replicas share.
type topology struct {
	name string
	// mode is REDIS_MODE ("" for the default, one server).
	mode string
	url  string
	// failover, when set, is forced two thirds into the traffic (Sentinel):
	// requests may answer 503 meanwhile, nothing may be lost.
	failover func() error
}

// replica is one running copy of the service.
type replica struct {
	n   int
	p   *proc
	url *url.URL
}

// startReplicas starts n replicas of the binary side by side on w's
// environment and puts them behind w's front.
func startReplicas(t *testing.T, w *world, n int) []*replica {
	t.Helper()
	reps := make([]*replica, n)
	files := make([]string, n)
	for i := range n {
		files[i] = filepath.Join(w.work, fmt.Sprintf("replica-%d.addr", i+1))
		reps[i] = &replica{n: i + 1}
		reps[i].p = startProc(t, fmt.Sprintf("replica-%d", i+1), filepath.Join(w.logDir, fmt.Sprintf("replica-%d.log", i+1)), nil,
			w.bin, []string{"-addr", "127.0.0.1:0", "-addr-file", files[i]}, w.env)
	}
	urls := make([]*url.URL, n)
	for i, r := range reps {
		addr, err := waitAddrFile(t, r.p, files[i], 90*time.Second)
		if err != nil {
			t.Fatalf("replica %d: %v (see %s)", r.n, err, w.logDir)
		}
		r.url = &url.URL{Scheme: "http", Host: addr}
		urls[i] = r.url
	}
	w.front.setPool(urls)
	return reps
}

// heldDelivery is a webhook delivery the receiver kept unanswered while
// it killed its sender.
type heldDelivery struct {
	d   delivery
	pid int // the replica that sent it
	// killedAt is when its sender was dead.
	killedAt time.Time
	// cutBefore: the sender had dropped the request before the kill (a
	// pause past its request timeout before the receiver got to it).
	cutBefore bool
}

// webhookTrap, once armed, holds the first delivery a replica sends (only
// victim's when victim is set) and kills that replica there and then, in
// the receiver's handler, with the request unanswered: the delivery is
// certain to be in flight at the kill, whatever the machine's pauses
// (waiting elsewhere for the kill would race the sender's own request
// timeout, 1.5 s in the drive, after which it retries by itself).
type webhookTrap struct {
	// armed is the one decision point: the handler that swaps it to false
	// holds and kills; the drive swapping it to false gives up waiting.
	armed  atomic.Bool
	victim atomic.Int64 // pid; 0 any replica
	held   chan *heldDelivery
	pids   func() []int
	kill   func(pid int)
}

func (tr *webhookTrap) hold(req *http.Request, d delivery) bool {
	if !tr.armed.Load() {
		return true
	}
	pid := pidOfPeer(req.RemoteAddr, tr.pids())
	if pid == 0 || (tr.victim.Load() != 0 && int64(pid) != tr.victim.Load()) || !tr.armed.CompareAndSwap(true, false) {
		return true
	}
	h := &heldDelivery{d: d, pid: pid, cutBefore: req.Context().Err() != nil}
	tr.kill(pid)
	h.killedAt = time.Now()
	tr.held <- h
	return false
}

// gatewayTrap holds, once armed, the next payrefund a replica sends: a
// merchant's refund, or an automatic refund under an effect's claim. Its
// sender becomes the replica the drive kills, with it in flight, never
// forwarded; from the hold on, the trap logs every request about the same
// refund_out_no that another replica sends. The refund must not stay in
// flight forever: a replay of the merchant's request, the effect's next
// claimant or the reconciler must take it up, which may happen before the
// kill once the held claim's lease (3 s in the drive) has run out while
// the drive waited for the victim's webhook delivery: that counts too, as
// it is the same takeover. (A paystatus or payorder is never held: a
// payer's retry makes a new attempt, and a notify's paystatus is not asked
// again once another copy settled the order.)
type gatewayTrap struct {
	keys  map[string]gateway.Key
	pids  func() []int
	armed atomic.Bool // the one decision point, as webhookTrap's
	held  chan gwHeld
	mu    sync.Mutex
	watch string   // refund_out_no of the held request
	from  int      // its sender, whose own requests do not count
	again []gwHeld // requests about watch from other replicas since the hold
}

// gwHeld is a protocol request seen at the gateway proxy.
type gwHeld struct {
	endpoint, outNo string
	at              time.Time
	pid             int // the replica that sent it
}

func (g *gatewayTrap) hold(r *http.Request, endpoint string, body []byte) bool {
	outNo, refundNo := numbersOfRequest(body, g.keys)
	now := time.Now()
	g.mu.Lock()
	watch, from := g.watch, g.from
	g.mu.Unlock()
	// The refund asked about again: sent again, or its status asked.
	if watch != "" && (refundNo == watch || (endpoint == "paystatus" && outNo == watch)) {
		if pid := pidOfPeer(r.RemoteAddr, g.pids()); pid != from {
			g.mu.Lock()
			g.again = append(g.again, gwHeld{endpoint: endpoint, outNo: watch, at: now, pid: pid})
			g.mu.Unlock()
		}
	}
	if !g.armed.Load() || refundNo == "" || endpoint != "payrefund" {
		return true
	}
	pid := pidOfPeer(r.RemoteAddr, g.pids())
	if pid == 0 || !g.armed.CompareAndSwap(true, false) {
		return true
	}
	g.mu.Lock()
	g.watch, g.from = refundNo, pid
	g.mu.Unlock()
	g.held <- gwHeld{endpoint: endpoint, outNo: refundNo, at: now, pid: pid}
	// Never forwarded: the replica dies with it in flight (or, should the
	// kill not come, its client gives up: 15 s).
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
	return false
}

// firstAgain is the first request about the held refund from another
// replica than its sender.
func (g *gatewayTrap) firstAgain() (gwHeld, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.again) == 0 {
		return gwHeld{}, false
	}
	return g.again[0], true
}

// sseFinal reports whether a payer's stream ends at status.
func sseFinal(status string) bool {
	switch status {
	case "paid", "partially_refunded", "refunded", "expired", "cancelled":
		return true
	}
	return false
}

// stream is one payer's event stream on a checkout, reopened through the
// front whenever it ends before a final state.
type stream struct {
	final string
	opens int
	cut   int // ended (or failed to open) before a final state
}

// streams follows a payer's event stream on every checkout created.
type streams struct {
	d     *driver
	c     *http.Client
	mu    sync.Mutex
	byID  map[string]*stream
	wg    sync.WaitGroup
	stop  chan struct{}
	hints atomic.Int64 // "event: poll" answers (a stream cap reached)
}

func newStreams(d *driver) *streams {
	s := &streams{d: d, byID: map[string]*stream{}, stop: make(chan struct{}),
		c: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}}}
	return s
}

func (s *streams) watch(p *planned) {
	st := &stream{}
	s.mu.Lock()
	s.byID[p.ID] = st
	s.mu.Unlock()
	s.wg.Go(func() { s.follow(p.ID, st) })
}

// follow reads the checkout's stream until a final state, reconnecting
// (through the front, so to whichever replica is next) when it ends.
func (s *streams) follow(id string, st *stream) {
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		final, opened, err := s.once(id)
		s.mu.Lock()
		if opened {
			st.opens++
		}
		if final != "" {
			st.final = final
			s.mu.Unlock()
			return
		}
		st.cut++
		s.mu.Unlock()
		wait := 300 * time.Millisecond
		if err != nil {
			wait = time.Second
		}
		select {
		case <-s.stop:
			return
		case <-time.After(wait):
		}
	}
}

// once opens the stream and reads it to its end: the final status it
// showed, if any.
func (s *streams) once(id string) (final string, opened bool, err error) {
	req, _ := http.NewRequestWithContext(s.d.ctx, http.MethodGet, s.d.w.front.url()+"/c/"+id+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", uaDesktop)
	resp, err := s.c.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return "", false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-s.stop:
			resp.Body.Close()
		case <-done:
		}
	}()
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return "", true, nil // cut: the replica died, or the stream ended
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "event: poll" {
			s.hints.Add(1)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ps struct {
				Status string `json:"status"`
			}
			if json.Unmarshal([]byte(data), &ps) == nil && sseFinal(ps.Status) {
				return ps.Status, true, nil
			}
		}
	}
}

// close ends every stream still open and waits for the followers.
func (s *streams) close() {
	close(s.stop)
	s.wg.Wait()
}

// check compares every stream with its checkout's final state: a checkout
// the payer sees at a final state must have shown it on its stream (a paid
// one paid; an expired or cancelled one that, unless it was paid late).
func (s *streams) check(st *state, f findings) (open, cut int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sm := range s.byID {
		cut += sm.cut
		if sm.final == "" {
			open++
		}
		v := st.views[id]
		if v == nil || !sseFinal(v.Status) {
			continue
		}
		switch {
		case sm.final == "":
			f.add(invStreams, id, "the checkout is %s but its payer's stream never showed a final state (opened %d times)", v.Status, sm.opens)
		case paidStatus(sm.final) && !paidStatus(v.Status):
			f.add(invStreams, id, "the stream showed %s, the checkout is %s", sm.final, v.Status)
		case !paidStatus(sm.final) && paidStatus(v.Status) && !v.Late:
			f.add(invStreams, id, "the stream showed %s, the checkout is %s, paid in time", sm.final, v.Status)
		}
	}
	return open, cut
}

// pidOfPeer finds which of pids owns the loopback connection whose far
// end is remoteAddr (the local end of a connection the process opened):
// /proc/net/tcp names the socket's inode, /proc/PID/fd the process that
// holds it. 0 when none does.
func pidOfPeer(remoteAddr string, pids []int) int {
	_, ps, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return 0
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return 0
	}
	suffix := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) > 9 && strings.HasSuffix(fs[1], suffix) {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && inodes[l] {
				return pid
			}
		}
	}
	return 0
}

// replicasOptions is the drive's shape: short enough for CI (about 80 s
// on a 2-core machine, most of it waiting for the late journeys: a 60 s
// expiry, and the sandbox's late payer paying 62 s after the scan).
func replicasOptions(seed uint64) options {
	return options{
		seed: seed, duration: 40 * time.Second, quiet: 100 * time.Second, fsync: "everysec",
		workers: 6, claimLease: 3 * time.Second, lateDelay: 62 * time.Second, replicas: 3,
	}
}

// runReplicas is the drive on topo.
func runReplicas(t *testing.T, topo topology, opt options) {
	t.Logf("replicas drive on %s, seed %d (replay with CHAOS_SEED=%d), traffic %s", topo.name, opt.seed, opt.seed, opt.duration)
	opt.redisURL, opt.redisMode = topo.url, topo.mode
	began := time.Now()
	noAim := func(string, string) (bool, bool, func() bool) { return false, false, nil }
	w := newWorld(t, opt, nil, noAim)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with chaos seed %d (replay with CHAOS_SEED=%d)", opt.seed, opt.seed)
		}
	})
	// The service's env leaves room for the drive: one client address (the
	// front) opens every stream, and the API rate limit would cap the
	// throughput this drive measures.
	w.env = append(w.env, "CHECKOUT_STREAMS_PER_CLIENT=100000", "CHECKOUT_STREAMS_PER_CHECKOUT=1000", "CHECKOUT_RATE_API=off")

	reps := startReplicas(t, w, opt.replicas)
	pids := func() []int {
		var out []int
		for _, r := range reps {
			out = append(out, r.p.cmd.Process.Pid)
		}
		return out
	}
	byPid := func(pid int) *replica {
		for _, r := range reps {
			if r.p.cmd.Process.Pid == pid {
				return r
			}
		}
		return nil
	}
	trap := &webhookTrap{held: make(chan *heldDelivery, 1), pids: pids, kill: func(pid int) {
		if r := byPid(pid); r != nil {
			r.p.kill()
		}
	}}
	gw := &gatewayTrap{keys: w.gwKeys, pids: pids, held: make(chan gwHeld, 1)}
	gwHold := gwHoldFunc(gw.hold)
	w.gwHold.Store(&gwHold)
	w.recv.mu.Lock()
	w.recv.hold = trap.hold
	w.recv.mu.Unlock()
	t.Logf("%d replicas up in %s", len(reps), time.Since(began).Round(100*time.Millisecond))

	d := newDriver(w)
	ss := newStreams(d)
	d.watch = ss.watch
	trafficStart := time.Now()
	trafficEnd := trafficStart.Add(opt.duration)
	reqs0 := w.front.requests.Load()
	wait := d.run(opt.workers, trafficEnd)

	// A third of the way in, kill a replica with work of both kinds in
	// flight: first the next payrefund any replica sends is held at the
	// gateway proxy (its client waits 15 s for the answer), which makes its
	// sender the victim; then the victim's next webhook delivery is held
	// at the receiver, which kills the victim there and then. Every wait
	// is bounded and no state is waited for that could pass meanwhile:
	// without a payrefund within 20 s, any replica's next delivery picks
	// the victim; without a delivery from it within 8 s (well inside the
	// payrefund's 15 s), the victim dies with the payrefund only.
	time.Sleep(time.Until(trafficStart.Add(opt.duration / 3)))
	var (
		victim    *replica
		held      *heldDelivery
		killedAt  time.Time
		gwHeldReq *gwHeld
	)
	gw.armed.Store(true)
	select {
	case h := <-gw.held:
		gwHeldReq = &h
	case <-time.After(20 * time.Second):
		if !gw.armed.CompareAndSwap(true, false) {
			h := <-gw.held // held as the wait ran out
			gwHeldReq = &h
		}
	}
	webhookWait := 20 * time.Second
	if gwHeldReq != nil {
		trap.victim.Store(int64(gwHeldReq.pid))
		webhookWait = 8 * time.Second
	}
	trap.armed.Store(true)
	select {
	case held = <-trap.held:
	case <-time.After(webhookWait):
		if !trap.armed.CompareAndSwap(true, false) {
			held = <-trap.held // the handler won: it killed
		}
	}
	switch {
	case held != nil:
		victim, killedAt = byPid(held.pid), held.killedAt
	case gwHeldReq != nil:
		victim = byPid(gwHeldReq.pid)
		t.Logf("no webhook delivery from replica %d within %s: killing it with the payrefund only", victim.n, webhookWait)
	default:
		// No work to hold (none due): kill one anyway; its claims on
		// other work are still taken over, just not timed here.
		victim = reps[1]
		t.Logf("no payrefund and no webhook delivery within %s: killing replica %d with neither in flight", 20*time.Second+webhookWait, victim.n)
	}
	if held == nil {
		victim.p.kill()
		killedAt = time.Now()
	}
	if gwHeldReq != nil {
		t.Logf("it had a %s about %s held at the gateway proxy for %s", gwHeldReq.endpoint, gwHeldReq.outNo, killedAt.Sub(gwHeldReq.at).Round(time.Millisecond))
	}
	t.Logf("kill -9 replica %d (pid %d) at %s of traffic", victim.n, victim.p.cmd.Process.Pid, killedAt.Sub(trafficStart).Round(100*time.Millisecond))
	if held != nil {
		// Never answered, so still owed: only another replica can deliver
		// it, after the lease (or sooner, after the backoff, had the victim
		// given up on the request and recorded the attempt before it died).
		how := "connection still open at the kill"
		if held.cutBefore {
			how = "the sender had given up on the request before the kill (paused past its timeout)"
		}
		t.Logf("it was delivering event %s (%s), received %s before the kill; %s",
			held.d.ID, held.d.Type, killedAt.Sub(held.d.At).Round(time.Millisecond), how)
	}

	var failover time.Duration
	if topo.failover != nil {
		time.Sleep(time.Until(trafficStart.Add(opt.duration * 2 / 3)))
		t0 := time.Now()
		if err := topo.failover(); err != nil {
			t.Errorf("failover: %v", err)
		}
		failover = time.Since(t0)
		t.Logf("failover done in %s", failover.Round(100*time.Millisecond))
	}

	time.Sleep(time.Until(trafficEnd))
	d.stop.Store(true)
	trafficDur := time.Since(trafficStart)
	reqs := w.front.requests.Load() - reqs0
	failed, limited := w.front.failed.Load(), w.front.limited.Load()
	waitDone := make(chan struct{})
	go func() { wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(3 * time.Minute):
		t.Errorf("traffic workers still running 3 min after the end of traffic")
		d.cancel()
		<-waitDone
	}

	// Quiet: poll until every invariant holds, the streams included, and
	// the held delivery was made again by a live replica.
	quietStart := time.Now()
	var (
		f         findings
		cov       coverage
		st        *state
		takeover  time.Duration
		open, cut int
	)
	for {
		st = d.collect()
		if st != nil {
			f, cov = check(d.led, st)
			open, cut = ss.check(st, f)
			if held != nil && takeover == 0 {
				for _, dl := range st.delivers {
					if dl.ID == held.d.ID && dl.At.After(killedAt) {
						takeover = dl.At.Sub(killedAt)
						break
					}
				}
			}
			// Not before the late payers (started with the traffic) have
			// paid at the gateway: else their checks prove nothing.
			latePaid := time.Since(trafficStart) > opt.lateDelay+10*time.Second
			_, gwAgain := gw.firstAgain()
			if f.count() == 0 && (held == nil || takeover > 0) && (gwHeldReq == nil || gwAgain) && latePaid {
				break
			}
		}
		if time.Since(quietStart) > opt.quiet {
			break
		}
		time.Sleep(settleStep)
	}
	quiet := time.Since(quietStart)
	ss.close()

	lease := 4 * opt.claimLease // a webhook delivery's lease (config.ClaimLease's doc)
	var b strings.Builder
	fmt.Fprintf(&b, "replicas drive on %s, seed %d: %s in all, quiet period %s\n", topo.name, opt.seed, time.Since(began).Round(time.Second), quiet.Round(time.Second))
	fmt.Fprintf(&b, "  throughput through the front: %d requests in %s = %.1f requests/s; %d answered 5xx or cut (502 while a replica died, 503 in a failover), %d answered 429\n",
		reqs, trafficDur.Round(100*time.Millisecond), float64(reqs)/trafficDur.Seconds(), failed, limited)
	if held != nil {
		if takeover > 0 {
			fmt.Fprintf(&b, "  lease takeover: event %s, held in flight at replica %d when killed, delivered again by another replica %s after the kill (%s after the dead one received it; webhook lease %s)\n",
				held.d.ID, victim.n, takeover.Round(100*time.Millisecond), (killedAt.Sub(held.d.At) + takeover).Round(100*time.Millisecond), lease)
		} else {
			fmt.Fprintf(&b, "  lease takeover: event %s, held in flight at replica %d when killed, was NEVER delivered again\n", held.d.ID, victim.n)
		}
	}
	if gwHeldReq != nil {
		if a, ok := gw.firstAgain(); ok {
			rel := fmt.Sprintf("%s after the kill", a.at.Sub(killedAt).Round(100*time.Millisecond))
			if a.at.Before(killedAt) {
				rel = fmt.Sprintf("%s before the kill", killedAt.Sub(a.at).Round(100*time.Millisecond))
			}
			fmt.Fprintf(&b, "  gateway work: a %s about %s, held from the gateway when replica %d was killed, was taken up by another replica (%s) %s after the hold, %s (a merchant's replay at once; an automatic refund after the effect's claim lease, %s, which may run out before the kill)\n",
				gwHeldReq.endpoint, gwHeldReq.outNo, victim.n, a.endpoint, a.at.Sub(gwHeldReq.at).Round(100*time.Millisecond), rel, opt.claimLease)
		} else {
			fmt.Fprintf(&b, "  gateway work: a %s about %s, held from the gateway when replica %d was killed, was NEVER taken up by a live replica\n", gwHeldReq.endpoint, gwHeldReq.outNo, victim.n)
		}
	}
	ss.mu.Lock()
	fmt.Fprintf(&b, "  payer event streams: %d, %d reconnections (cut by the kill, or ended early), %d still open at the end (checkouts not final), %d polling hints\n",
		len(ss.byID), cut, open, ss.hints.Load())
	ss.mu.Unlock()
	if failover > 0 {
		fmt.Fprintf(&b, "  sentinel failover forced at %s of traffic, took %s\n", (opt.duration * 2 / 3).Round(time.Second), failover.Round(100*time.Millisecond))
	}
	t.Log(b.String())
	d.report(t, w, nil, st, time.Since(began), quiet)
	t.Logf("cases each invariant examined:%s", cov)

	for _, r := range reps {
		if r != victim && !r.p.running() {
			t.Errorf("replica %d exited by itself: %v", r.n, r.p.err)
		}
	}
	if held != nil && takeover == 0 {
		t.Errorf("event %s, in flight at replica %d when it was killed, was never delivered by another replica (webhook lease %s)", held.d.ID, victim.n, lease)
	}
	if _, ok := gw.firstAgain(); gwHeldReq != nil && !ok {
		t.Errorf("the %s about %s, in flight at replica %d when it was killed, was never taken up by another replica", gwHeldReq.endpoint, gwHeldReq.outNo, victim.n)
	}
	if st == nil {
		t.Fatalf("could not read the final state (seed %d)", opt.seed)
	}
	if f.count() > 0 {
		t.Errorf("replicas drive on %s, seed %d: invariants broken after a quiet period of %s:%s", topo.name, opt.seed, quiet.Round(time.Second), f)
	}
}

// TestReplicas runs the drive on one redis-server of its own.
func TestReplicas(t *testing.T) {
	t.Parallel()
	needReal(t)
	runReplicas(t, topology{name: "one redis-server"}, replicasOptions(seedOf(t)))
}
