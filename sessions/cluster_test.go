package sessions

import (
	"context"
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestPayersOnCluster stores, reads (alone and queued in a pipeline, as
// the pages do), renews and destroys sessions through go-redis's cluster
// client on miniredis, which refuses a transaction spanning slots.
func TestPayersOnCluster(t *testing.T) {
	_, rdb := redistest.MiniCluster(t)
	payersOnCluster(t, rdb)
}

// TestPayersOnRealCluster does the same on a real Redis Cluster
// (REDIS_CLUSTER_URL): sessions land on every primary. Skipped without
// one, failed in CI (REDIS_REQUIRED=1).
func TestPayersOnRealCluster(t *testing.T) {
	payersOnCluster(t, redistest.Cluster(t))
}

func payersOnCluster(t *testing.T, rdb *redis.ClusterClient) {
	ps := newPayers(t, rdb, Config{PublicURL: "https://pay.example.com"})
	var cookies []*http.Cookie
	for i := range 12 {
		id := "oOPENID" + string(rune('A'+i))
		cookies = append(cookies, save(t, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", id) }))
	}
	// All twelve read back in one pipeline, whatever their slots.
	pipe := rdb.Pipeline()
	loads := make([]func(http.ResponseWriter) (*Payer, error), len(cookies))
	for i, c := range cookies {
		r, _ := http.NewRequest(http.MethodGet, "https://pay.example.com/c/x", nil)
		r.AddCookie(c)
		queued, load := ps.Queue(context.Background(), pipe, r)
		if !queued {
			t.Fatalf("session %d not queued", i)
		}
		loads[i] = load
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, load := range loads {
		p, err := load(nil)
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := p.WeChatOpenID("wxoa"); !ok || id != "oOPENID"+string(rune('A'+i)) {
			t.Errorf("session %d: %q %v", i, id, ok)
		}
	}
	// Destroyed, a session is gone.
	request(t, cookies[:1], func(w http.ResponseWriter, r *http.Request) {
		if err := ps.Destroy(w, r); err != nil {
			t.Fatal(err)
		}
	})
	if p := load(t, ps, cookies[0]); p.HasIdentity() {
		t.Error("destroyed session still has its identity")
	}
	if p := load(t, ps, cookies[1]); !p.HasIdentity() {
		t.Error("another session lost its identity")
	}
}
