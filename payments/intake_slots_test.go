package payments_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// keySlot is Redis Cluster's hash slot of key: CRC16 (XMODEM) of the key,
// or of its hash tag (the part between the first '{' and the next '}',
// when not empty), mod 16384.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// slotGuard records every script (EVAL, EVALSHA) and MULTI block whose keys
// span more than one hash slot: Redis Cluster refuses those (CROSSSLOT).
type slotGuard struct {
	mu    sync.Mutex
	cross []string
}

func (g *slotGuard) note(what string, keys []string) {
	slots := map[int]bool{}
	for _, k := range keys {
		slots[keySlot(k)] = true
	}
	if len(slots) > 1 {
		g.mu.Lock()
		g.cross = append(g.cross, fmt.Sprintf("%s %v", what, keys))
		g.mu.Unlock()
	}
}

// scriptKeys returns a script command's name and keys, ok false for other
// commands.
func scriptKeys(args []any) (string, []string, bool) {
	name, _ := args[0].(string)
	if (name != "eval" && name != "evalsha") || len(args) < 3 {
		return "", nil, false
	}
	n, err := strconv.Atoi(fmt.Sprint(args[2]))
	if err != nil || 3+n > len(args) {
		return "", nil, false
	}
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprint(args[3+i])
	}
	return name, keys, true
}

func (g *slotGuard) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *slotGuard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name, keys, ok := scriptKeys(cmd.Args()); ok {
			g.note(name, keys)
		}
		return next(ctx, cmd)
	}
}
func (g *slotGuard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var multi []string
		inMulti := false
		for _, c := range cmds {
			args := c.Args()
			name, _ := args[0].(string)
			switch {
			case name == "multi":
				inMulti, multi = true, nil
			case name == "exec":
				g.note("MULTI", multi)
				inMulti = false
			default:
				if sn, keys, ok := scriptKeys(args); ok {
					g.note(sn, keys)
					if inMulti {
						multi = append(multi, keys...)
					}
				} else if inMulti && len(args) > 1 {
					multi = append(multi, fmt.Sprint(args[1]))
				}
			}
		}
		return next(ctx, cmds)
	}
}

// TestNotifyOneSlotPerScript: on a Redis Cluster client, every script and
// MULTI of notify intake (a first notify, its copies at once, a duplicate
// later, and a second attempt's payment, refunded) stays in one hash slot.
// On a single Redis the step that records a payment also takes the
// checkout out of the expiry queue, another slot (as a checkout's creation
// adds it): the test logs what spans slots there and allows only that.
func TestNotifyOneSlotPerScript(t *testing.T) {
	for _, mode := range []string{"cluster", "single"} {
		t.Run(mode, func(t *testing.T) {
			var rdb redis.UniversalClient
			if mode == "cluster" {
				m, _ := redistest.Miniredis(t)
				cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{m.Addr()}})
				t.Cleanup(func() { _ = cc.Close() })
				rdb = cc
			} else {
				rdb = redistest.New(t)
			}
			g := &slotGuard{}
			rdb.AddHook(g)
			e, _ := newGateEnv(t, envConfig{rdb: rdb, sandbox: sandbox.Config{DropNotifies: true}})
			ctx := context.Background()
			c := e.newCheckout(1000, 30*time.Minute)
			a := e.order(c, checkout.ScenarioQR, "")
			b := e.order(c, checkout.ScenarioQR, "")
			e.pay(a)
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid))
				}()
			}
			wg.Wait()
			e.clk.Advance(3 * time.Second)
			if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err != nil {
				t.Fatalf("duplicate: %v", err)
			}
			e.pay(b)
			_ = e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(b, gateway.StatusPaid))
			e.settleRefunds()
			if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
				t.Fatalf("%d paid events", len(evs))
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if mode == "single" {
				// Known, and cluster-aware (checkout.Repo's cluster
				// flag): a checkout's creation (MULTI, before the
				// intake merge too) and the pay script (since it) join
				// the expiry queue. Nothing else may.
				for _, x := range g.cross {
					t.Logf("spans slots on a single Redis: %s", x)
					if !strings.Contains(x, ":expiry ") {
						t.Errorf("spans slots beyond the expiry queue: %s", x)
					}
				}
				return
			}
			for _, x := range g.cross {
				t.Errorf("spans slots on Redis Cluster: %s", x)
			}
		})
	}
}
