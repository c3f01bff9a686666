package chaos

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seedOf is CHAOS_SEED, else a fresh random seed (printed, to replay).
func seedOf(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q is not a whole number", s)
		}
		return n
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) % 1_000_000_000
}

// durationOf is CHAOS_DURATION, else the short run's.
func durationOf(t *testing.T, short time.Duration) time.Duration {
	t.Helper()
	if s := os.Getenv("CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 10*time.Second {
			t.Fatalf("CHAOS_DURATION=%q is not a Go duration of at least 10s", s)
		}
		return d
	}
	return short
}

// TestChaos kills the service at random instants (and right after it
// records refunds) while mixed traffic runs, restarts Redis once
// gracefully, and checks the invariants once things settle.
func TestChaos(t *testing.T) {
	t.Parallel()
	seed := seedOf(t)
	dur := durationOf(t, 70*time.Second)
	runChaos(t, options{
		seed: seed, duration: dur, quiet: 100 * time.Second, fsync: "everysec",
		serviceKills: true, killEvery: [2]time.Duration{2 * time.Second, 7 * time.Second},
		redisGraceful: true, workers: 10, claimLease: 3 * time.Second, lateDelay: 70 * time.Second,
	})
}

// TestChaosRedisKill kills Redis itself with SIGKILL. With --appendfsync
// always every acknowledged write is on disk; with everysec the last second
// may be lost, which is why this is a test of its own.
func TestChaosRedisKill(t *testing.T) {
	t.Parallel()
	seed := seedOf(t)
	dur := durationOf(t, 70*time.Second)
	kills := 2
	if dur > 5*time.Minute {
		kills = int(dur / (2 * time.Minute))
	}
	runChaos(t, options{
		seed: seed + 1, duration: dur, quiet: 100 * time.Second, fsync: "always",
		serviceKills: true, killEvery: [2]time.Duration{8 * time.Second, 20 * time.Second},
		redisKills: kills, workers: 6, claimLease: 3 * time.Second, lateDelay: 70 * time.Second,
	})
}

// killer kills the service at random instants and, when the service's
// log shows it just did money work, a few milliseconds later.
type killer struct {
	mu       sync.Mutex
	rng      *mrand.Rand
	active   atomic.Bool
	targeted chan time.Duration
	last     time.Time
	aimed    atomic.Int64
	// armed holds checkouts whose automatic refund was just logged, until
	// when: the gateway proxy kills the service with that refund's
	// payrefund held back from the gateway (the refund is then in sending,
	// never received: it must be sent again, never given up as failed).
	armed map[string]time.Time
	// autoHeld counts those kills.
	autoHeld atomic.Int64
}

var reCheckoutID = regexp.MustCompile(`"checkout_id":"(co_[0-9A-Za-z]+)"`)

// markers are log lines after which a crash hurts most: a refund just
// created at the gateway (next: recording it, its event, marking it done),
// an automatic refund about to be sent.
var markers = []string{
	`"msg":"Refund created at the gateway"`,
	`"msg":"Double payment: refunding the second one"`,
	`"msg":"Late payment: refunding it (late policy refund)"`,
	`"msg":"Checkout paid"`,
}

func (k *killer) hook(line string) {
	if !k.active.Load() {
		return
	}
	for i, m := range markers {
		if strings.Contains(line, m) {
			k.mu.Lock()
			fire := k.rng.IntN(2) == 0
			if i == 1 || i == 2 {
				// An automatic refund: half the time its payrefund is held
				// at the gateway proxy and the service killed then; a
				// quarter, a kill a few ms after the line; else none.
				switch n := k.rng.IntN(4); {
				case n < 2:
					if m := reCheckoutID.FindStringSubmatch(line); m != nil {
						now := time.Now()
						for id, until := range k.armed {
							if now.After(until) {
								delete(k.armed, id)
							}
						}
						k.armed[m[1]] = now.Add(3 * time.Second)
					}
					fire = false
				default:
					fire = n == 2
				}
			}
			// The sandbox answers after -latency (15 ms), so an automatic
			// refund's payrefund is in flight for the first ~16 ms after
			// its log line, and a refund created at the gateway is
			// confirmed with paystatus and recorded ~16 ms after its own.
			spread := 25000
			if i == 1 || i == 2 {
				spread = 16000
			}
			delay := time.Duration(k.rng.IntN(spread)) * time.Microsecond
			k.mu.Unlock()
			if fire {
				select {
				case k.targeted <- delay:
				default:
				}
			}
			return
		}
	}
}

// aim decides, for a payorder or payrefund passing the gateway proxy,
// whether to kill the service with it in flight; fired queues the kill and
// waits a moment for it, reporting whether it was queued.
func (k *killer) aim(endpoint, checkoutID string) (kill, before bool, fired func() bool) {
	if !k.active.Load() || (endpoint != "payrefund" && endpoint != "payorder") {
		return false, false, nil
	}
	k.mu.Lock()
	if until, ok := k.armed[checkoutID]; ok && endpoint == "payrefund" {
		delete(k.armed, checkoutID)
		if time.Now().Before(until) {
			k.mu.Unlock()
			return true, true, func() bool {
				// Wait for the chaos loop rather than give up: this kill
				// is the point of the arming.
				select {
				case k.targeted <- -1:
				case <-time.After(time.Second):
					return false
				}
				k.autoHeld.Add(1)
				time.Sleep(500 * time.Millisecond)
				return true
			}
		}
	}
	odds := 40
	if endpoint == "payrefund" {
		odds = 5
	}
	kill, before = k.rng.IntN(odds) == 0, k.rng.IntN(2) == 0
	k.mu.Unlock()
	return kill, before, func() bool {
		select {
		case k.targeted <- -1: // now, whatever the gap since the last kill
		default:
			return false
		}
		// The service dies within moments; answering before it does would
		// let it act on the answer.
		time.Sleep(500 * time.Millisecond)
		return true
	}
}

func runChaos(t *testing.T, opt options) {
	t.Logf("chaos seed %d (replay with CHAOS_SEED=%d), traffic %s, redis --appendfsync %s", opt.seed, opt.seed, opt.duration, opt.fsync)
	began := time.Now()
	k := &killer{rng: mrand.New(mrand.NewPCG(opt.seed, 99)), targeted: make(chan time.Duration, 1), armed: map[string]time.Time{}}
	w := newWorld(t, opt, k.hook, k.aim)
	d := newDriver(w)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with chaos seed %d (replay with CHAOS_SEED=%d)", opt.seed, opt.seed)
		}
	})

	trafficEnd := time.Now().Add(opt.duration)
	wait := d.run(opt.workers, trafficEnd)

	// The chaos loop: service kills, Redis restarts, until traffic ends.
	rng := mrand.New(mrand.NewPCG(opt.seed, 7))
	var redisAt []time.Time
	if opt.redisGraceful {
		redisAt = append(redisAt, began.Add(opt.duration*45/100))
	}
	for i := range opt.redisKills {
		redisAt = append(redisAt, began.Add(opt.duration*time.Duration(i+1)/time.Duration(opt.redisKills+1)))
	}
	var serviceDied []string
	kill := func(why string) {
		if time.Until(trafficEnd) < time.Second {
			return // a restart would outlast the traffic
		}
		if err := w.svc.alive(); err != nil {
			serviceDied = append(serviceDied, err.Error())
		}
		if err := w.svc.killAndRestart(time.Duration(rng.IntN(400)) * time.Millisecond); err != nil {
			t.Fatalf("restart after kill (%s): %v", why, err)
		}
		k.last = time.Now()
	}
	next := func() time.Duration {
		lo, hi := opt.killEvery[0], opt.killEvery[1]
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	if opt.serviceKills {
		k.active.Store(true)
	}
	timer := time.NewTimer(next())
	tick := time.NewTicker(200 * time.Millisecond)
	for time.Now().Before(trafficEnd) {
		select {
		case <-timer.C:
			if opt.serviceKills {
				kill("random")
			}
			timer.Reset(next())
		case delay := <-k.targeted:
			if delay >= 0 && time.Since(k.last) < time.Second {
				continue
			}
			time.Sleep(max(delay, 0))
			k.aimed.Add(1)
			kill("aimed")
		case <-tick.C:
			if len(redisAt) > 0 && time.Now().After(redisAt[0]) {
				redisAt = redisAt[1:]
				if opt.redisGraceful && opt.redisKills == 0 {
					t.Logf("redis: SHUTDOWN and restart at %s", time.Since(began).Round(time.Second))
					w.rdb.restartGraceful()
				} else {
					t.Logf("redis: kill -9 and restart at %s", time.Since(began).Round(time.Second))
					w.rdb.restartKill()
				}
			}
		}
	}
	k.active.Store(false)
	timer.Stop()
	tick.Stop()
	d.stop.Store(true)
	trafficDone := time.Now()
	waitDone := make(chan struct{})
	go func() { wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(3 * time.Minute):
		t.Errorf("traffic workers still running 3 min after the end of traffic")
		d.cancel()
		<-waitDone
	}
	t.Logf("traffic stopped at %s; workers done %s later", trafficDone.Sub(began).Round(time.Second), time.Since(trafficDone).Round(100*time.Millisecond))
	if err := w.svc.alive(); err != nil {
		serviceDied = append(serviceDied, err.Error())
		if err := w.svc.killAndRestart(0); err != nil {
			t.Fatal(err)
		}
	}

	// The quiet period: no more chaos; poll until every invariant holds or
	// the deadline passes (the service finishes its work on its own time:
	// leases, retries, the reconciler's schedule).
	quietStart := time.Now()
	var f findings
	var cov coverage
	var st *state
	for {
		st = d.collect()
		if st != nil {
			f, cov = check(d.led, st)
			if f.count() == 0 {
				break
			}
		}
		if time.Since(quietStart) > opt.quiet {
			break
		}
		time.Sleep(settleStep)
	}
	quiet := time.Since(quietStart)
	d.report(t, w, k, st, time.Since(began), quiet)
	t.Logf("cases each invariant examined:%s", cov)
	for _, s := range serviceDied {
		t.Errorf("the service died by itself: %s", s)
	}
	if st == nil {
		t.Fatalf("could not read the final state (seed %d)", opt.seed)
	}
	if f.count() > 0 {
		t.Errorf("chaos seed %d: invariants broken after a quiet period of %s:%s", opt.seed, quiet.Round(time.Second), f)
	}
}

// collect reads the sandbox's journal, every checkout from the service and
// the receiver's deliveries.
func (d *driver) collect() *state {
	j, err := d.w.journal()
	if err != nil {
		d.w.t.Logf("journal: %v", err)
		return nil
	}
	st := &state{journal: j, views: map[string]*checkoutView{}}
	d.led.mu.Lock()
	ids := append([]string(nil), d.led.order...)
	d.led.mu.Unlock()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			v, err := d.get(id)
			if err != nil {
				return
			}
			mu.Lock()
			st.views[id] = v
			mu.Unlock()
		})
	}
	wg.Wait()
	st.delivers, st.badSigs = d.w.recv.deliveries()
	return st
}

// report logs the run's figures.
func (d *driver) report(t *testing.T, w *world, k *killer, st *state, total, quiet time.Duration) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run, seed %d: %s in all, quiet period %s\n", w.opt.seed, total.Round(time.Second), quiet.Round(time.Second))
	if w.svc != nil && k != nil { // the chaos run's; the replicas drive reports its own
		fmt.Fprintf(&b, "  service: %d kills (%d aimed: right after money work, or with a payorder/payrefund in flight; %d with an automatic refund's payrefund held from the gateway), %d restarts; redis: %d restarts (--appendfsync %s)\n",
			w.svc.kills.Load(), k.aimed.Load(), k.autoHeld.Load(), w.svc.restarts.Load(), w.rdb.restarts.Load(), w.opt.fsync)
	}
	d.led.mu.Lock()
	journeys := map[string]int{}
	for _, p := range d.led.checkouts {
		name := p.Journey
		if i := strings.Index(name, "-"); i > 0 && strings.HasPrefix(name, "magic") {
			name = name[:i] + name[i:]
		}
		journeys[name]++
	}
	fmt.Fprintf(&b, "  checkouts: %d %v\n", len(d.led.checkouts), journeys)
	fmt.Fprintf(&b, "  payer actions: %d, pay starts: %d, merchant cancels: %d, refund requests: %d (replays %d), create keys: %d\n",
		d.led.payActions.Load(), d.led.payStarts.Load(), d.led.cancels.Load(), d.led.refundAsks.Load(), d.led.replays.Load(), len(d.led.creates))
	for _, n := range d.led.notes {
		fmt.Fprintf(&b, "  driver: %s\n", n)
	}
	d.led.mu.Unlock()
	if st != nil {
		var po, pr, paid, refunds int
		statuses := map[string]int{}
		for _, e := range st.journal.Requests {
			if e.Endpoint == "payorder" {
				po++
			} else {
				pr++
			}
		}
		for _, o := range st.journal.Orders {
			if o.Status == 1 {
				if o.OrdType == 1 {
					paid++
				} else {
					refunds++
				}
			}
		}
		for _, v := range st.views {
			statuses[v.Status]++
		}
		fmt.Fprintf(&b, "  gateway: %d payorder and %d payrefund requests; %d orders paid, %d refunds made\n", po, pr, paid, refunds)
		fmt.Fprintf(&b, "  service statuses: %v; webhook deliveries received: %d\n", statuses, len(st.delivers))
	}
	t.Log(b.String())
}
