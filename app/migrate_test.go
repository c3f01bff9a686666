package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// legacyFixture is a Redis filled by the code of the earlier key layout
// (main at 1dccc66): its checkout repository created four checkouts (one
// then cancelled: three left in the one "expiry" queue), its webhook
// service emitted six events for two merchants and delivered them once
// (three delivered, two retrying, one pending, all in the slot {wh}), and
// the reconciler's one "watch" list holds four work items the way payments
// writes them. Each line is one command, JSON-encoded; "PFX:" stands for
// where each owner's keys start.
const legacyFixture = "testdata/legacy-layout.jsonl"

// loadLegacy writes the fixture under prefix p the way app.New places each
// owner's keys: the repository under p+"co:", payments under p+"notify:",
// the webhooks under p.
func loadLegacy(t *testing.T, rdb redis.UniversalClient, p string) {
	t.Helper()
	f, err := os.Open(legacyFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var cmd []string
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			t.Fatal(err)
		}
		key := strings.TrimPrefix(cmd[1], "PFX:")
		switch {
		case strings.HasPrefix(key, "{wh}"):
			key = p + key
		case key == "watch":
			key = p + "notify:" + key
		default:
			key = p + "co:" + key
		}
		args := []any{cmd[0], key}
		for _, a := range cmd[2:] {
			args = append(args, a)
		}
		if err := rdb.Do(context.Background(), args...).Err(); err != nil {
			t.Fatalf("%v: %v", cmd[:2], err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// zset reads a sorted set as member → score.
func zset(t *testing.T, rdb redis.UniversalClient, key string) map[string]float64 {
	t.Helper()
	zs, err := rdb.ZRangeWithScores(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, z := range zs {
		out[z.Member.(string)] = z.Score
	}
	return out
}

// TestMigrateLegacyLayout fills Redis the way the earlier layout's code
// did, then starts two replicas at once on it: between them they move
// every entry and event into the sharded layout exactly once, a third
// start finds nothing to move, the due deliveries are each sent once, and
// nothing of the old layout is left.
func TestMigrateLegacyLayout(t *testing.T) {
	rdb := redistest.New(t)
	p := redistest.Prefix(t, rdb)
	ctx := context.Background()
	loadLegacy(t, rdb, p)

	// What the old layout holds, to find again.
	oldExpiry := zset(t, rdb, p+"co:expiry")
	oldWatch := zset(t, rdb, p+"notify:watch")
	oldDue := zset(t, rdb, p+"{wh}:due")
	type oldEvent struct {
		fields   map[string]string
		attempts []string
	}
	oldEvents := map[string]oldEvent{}
	for _, mid := range []string{"m_alpha", "m_beta"} {
		for id := range zset(t, rdb, p+"{wh}:m:"+mid) {
			h, err := rdb.HGetAll(ctx, p+"{wh}:evt:"+id).Result()
			if err != nil || h["mid"] != mid {
				t.Fatalf("fixture event %s: %v %v", id, h, err)
			}
			att, err := rdb.LRange(ctx, p+"{wh}:evt:"+id+":att", 0, -1).Result()
			if err != nil {
				t.Fatal(err)
			}
			oldEvents[id] = oldEvent{h, att}
		}
	}
	if len(oldExpiry) != 3 || len(oldWatch) != 4 || len(oldDue) != 3 || len(oldEvents) != 6 {
		t.Fatalf("fixture: %d expiry, %d watch, %d due, %d events", len(oldExpiry), len(oldWatch), len(oldDue), len(oldEvents))
	}

	var (
		mu  sync.Mutex
		got []string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e struct{ ID string }
		_ = json.Unmarshal(body, &e)
		mu.Lock()
		got = append(got, e.ID)
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	settings, err := config.FromEnv(func(k string) string {
		return map[string]string{"CHECKOUT_ALLOW_PRIVATE_WEBHOOKS": "true"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var ms []*checkout.Merchant
	accounts := payments.NewAccounts()
	for i, id := range []string{"m_alpha", "m_beta"} {
		ms = append(ms, &checkout.Merchant{ID: id, Name: id, WebhookURL: recv.URL,
			WebhookSecrets: []checkout.Secret{"whsec_0123456789abcdef0123456789"}, Stores: []*checkout.Store{{ID: "main"}}})
		gs, err := gateway.NewStore("http://127.0.0.1:9/mct1", "O"+strconv.Itoa(i), strings.Repeat("k", 32), "pass")
		if err != nil {
			t.Fatal(err)
		}
		if err := accounts.Add(id, "main", gs); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := checkout.NewDirectory(ms)
	if err != nil {
		t.Fatal(err)
	}
	// An hour after the fixture was written: every queued delivery is due.
	now := time.UnixMilli(1795593600000).Add(time.Hour)
	replica := func() *app.App {
		a, err := app.New(app.Config{Settings: settings, Redis: rdb, Directory: dir, Accounts: accounts, Prefix: p, Logger: slog.New(slog.DiscardHandler),
			Clock: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	// Two replicas start at once.
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		moved [2]app.Migration
		errs  [2]error
	)
	for i := range 2 {
		a := replica()
		wg.Go(func() {
			<-start
			moved[i], errs[i] = a.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if n := moved[0].Events + moved[1].Events; n != len(oldEvents) {
		t.Errorf("events copied %d times between the replicas (%+v), want each once: %d", n, moved, len(oldEvents))
	}
	// A later start finds nothing left.
	a := replica()
	if again, err := a.Migrate(ctx); err != nil || again != (app.Migration{}) {
		t.Errorf("third start moved %+v, %v; want nothing", again, err)
	}

	// Nothing of the old layout is left.
	for _, pattern := range []string{p + "{wh}*", p + "co:expiry", p + "notify:watch"} {
		if keys, err := redistest.Keys(rdb, pattern); err != nil || len(keys) != 0 {
			t.Errorf("old keys %s left: %v %v", pattern, keys, err)
		}
	}

	// Expiry: the same checkouts, once each, due at the same times.
	due, err := a.Repo.DueForExpiry(ctx, now.Add(24*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(due)
	var wantDue []string
	for id := range oldExpiry {
		wantDue = append(wantDue, id)
	}
	sort.Strings(wantDue)
	if strings.Join(due, ",") != strings.Join(wantDue, ",") {
		t.Errorf("due for expiry %v, want %v", due, wantDue)
	}
	if early, _ := a.Repo.DueForExpiry(ctx, time.UnixMilli(int64(oldExpiry[wantDue[0]])-1), 100); len(early) != 0 {
		t.Errorf("due before their expiry: %v", early)
	}

	// Watch: every member once, in its checkout's shard, with its due time.
	watch := map[string]float64{}
	keys, err := redistest.Keys(rdb, p+"notify:{q:*}:watch")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		for m, score := range zset(t, rdb, k) {
			if _, dup := watch[m]; dup {
				t.Errorf("work %s in two shards", m)
			}
			watch[m] = score
			_, rest, _ := strings.Cut(m, ":")
			id, _, _ := strings.Cut(rest, ":")
			if c, _, ok := checkout.ParseOutNo(rest); ok {
				id = c
			}
			if want := p + "notify:" + checkout.ShardTag(checkout.ShardOf(id)) + ":watch"; k != want {
				t.Errorf("work %s in %s, want %s", m, k, want)
			}
		}
	}
	if len(watch) != len(oldWatch) {
		t.Errorf("watch list %v, want %v", watch, oldWatch)
	}
	for m, score := range oldWatch {
		if watch[m] != score {
			t.Errorf("work %s due at %v, want %v", m, watch[m], score)
		}
	}

	// Webhooks: every event where the events API finds it, as it was.
	for id, old := range oldEvents {
		mid := old.fields["mid"]
		rec, err := a.Webhooks.Get(ctx, mid, id)
		if err != nil {
			t.Errorf("event %s after the move: %v", id, err)
			continue
		}
		if rec.Delivery.State != old.fields["state"] || len(rec.Delivery.Attempts) != len(old.attempts) {
			t.Errorf("event %s: state %s, %d attempts; want %s, %d", id, rec.Delivery.State, len(rec.Delivery.Attempts), old.fields["state"], len(old.attempts))
		}
		for _, q := range []webhook.ListQuery{{}, {CheckoutID: old.fields["cid"]}, {Type: old.fields["type"]}} {
			page, _, err := a.Webhooks.List(ctx, mid, q)
			n := 0
			for _, r := range page {
				if r.Event.ID == id {
					n++
				}
			}
			if err != nil || n != 1 {
				t.Errorf("event %s listed %d times under %+v: %v", id, n, q, err)
			}
		}
	}
	if n, err := a.Webhooks.Pending(ctx); err != nil || n != int64(len(oldDue)) {
		t.Errorf("%d deliveries queued, %v; want %d", n, err, len(oldDue))
	}
	// Each queued delivery is sent once, the delivered ones never again.
	if _, err := a.Webhooks.Tick(ctx, now); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(got)
	var wantSent []string
	for id := range oldDue {
		wantSent = append(wantSent, id)
	}
	sort.Strings(wantSent)
	if strings.Join(got, ",") != strings.Join(wantSent, ",") {
		t.Errorf("sent %v, want the queued %v once each", got, wantSent)
	}
}
