package checkout

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func testStore(id string) *Store {
	return &Store{ID: id, Name: "Store " + id, Sandbox: true}
}

func TestNewAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for _, live := range []bool{false, true} {
		for range 100 {
			k, err := NewAPIKey(live)
			if err != nil {
				t.Fatal(err)
			}
			prefix := TestKeyPrefix
			if live {
				prefix = LiveKeyPrefix
			}
			if !strings.HasPrefix(k, prefix) {
				t.Fatalf("key %q lacks prefix %q", k[:8], prefix)
			}
			rest := strings.TrimPrefix(k, prefix)
			if len(rest) < 32 || strings.Trim(rest, base62) != "" {
				t.Fatalf("random part is %d chars or not base62", len(rest))
			}
			if seen[k] {
				t.Fatal("duplicate key")
			}
			seen[k] = true
			if ak := APIKeyFor(k); ak.Live != live || len(ak.ID) != APIKeyIDLen || ak.Hash != HashAPIKey(k) {
				t.Fatalf("APIKeyFor = %+v", ak)
			}
		}
	}
}

func TestHashAPIKey(t *testing.T) {
	// sha256("abc")
	if got := HashAPIKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashAPIKey(abc) = %s", got)
	}
}

func TestDirectoryLookups(t *testing.T) {
	keyA, _ := NewAPIKey(false)
	keyB, _ := NewAPIKey(true)
	a := &Merchant{ID: "m_a", APIKeys: []APIKey{APIKeyFor(keyA)}, Stores: []*Store{testStore("main"), testStore("two")}}
	b := &Merchant{ID: "m_b", APIKeys: []APIKey{APIKeyFor(keyB)}, Stores: []*Store{testStore("main")}}
	d, err := NewDirectory([]*Merchant{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := d.Authenticate(keyA); !ok || m != a {
		t.Fatal("key A does not authenticate merchant A")
	}
	if m, ok := d.Authenticate(keyB); !ok || m != b {
		t.Fatal("key B does not authenticate merchant B")
	}
	for _, bad := range []string{"", keyA + "x", keyA[:len(keyA)-1], strings.ToUpper(keyA), strings.Repeat("a", 10000)} {
		if _, ok := d.Authenticate(bad); ok {
			t.Fatalf("key %.12q authenticated", bad)
		}
	}
	if m, ok := d.Merchant("m_b"); !ok || m != b {
		t.Fatal("Merchant(m_b)")
	}
	if _, ok := d.Merchant("nope"); ok {
		t.Fatal("Merchant(nope) found")
	}
	if s, ok := d.Store("m_a", "two"); !ok || s.ID != "two" || s != a.Stores[1] {
		t.Fatal("Store(m_a, two)")
	}
	if _, ok := d.Store("m_b", "two"); ok {
		t.Fatal("Store(m_b, two) found another merchant's store")
	}
	if a.DefaultStore().ID != "main" || a.Stores[0].LatePolicy != LatePolicyAccept {
		t.Fatal("default store or default late policy wrong")
	}
}

func TestNewDirectoryErrors(t *testing.T) {
	key, _ := NewAPIKey(false)
	tests := []struct {
		name string
		ms   func() []*Merchant
		want string
	}{
		{"nil merchant", func() []*Merchant { return []*Merchant{nil} }, "empty"},
		{"empty id", func() []*Merchant { return []*Merchant{{Stores: []*Store{testStore("s")}}} }, "id"},
		{"bad id", func() []*Merchant { return []*Merchant{{ID: "a b", Stores: []*Store{testStore("s")}}} }, "id"},
		{"duplicate id", func() []*Merchant {
			return []*Merchant{{ID: "a", Stores: []*Store{testStore("s")}}, {ID: "a", Stores: []*Store{testStore("s")}}}
		}, "used twice"},
		{"duplicate key", func() []*Merchant {
			return []*Merchant{
				{ID: "a", APIKeys: []APIKey{APIKeyFor(key)}, Stores: []*Store{testStore("s")}},
				{ID: "b", APIKeys: []APIKey{APIKeyFor(key)}, Stores: []*Store{testStore("s")}},
			}
		}, "used twice"},
		{"bad hash", func() []*Merchant {
			return []*Merchant{{ID: "a", APIKeys: []APIKey{{ID: "x", Hash: "zz"}}, Stores: []*Store{testStore("s")}}}
		}, "hex sha256"},
		{"no store", func() []*Merchant { return []*Merchant{{ID: "a"}} }, "no store"},
		{"duplicate store id", func() []*Merchant {
			return []*Merchant{{ID: "a", Stores: []*Store{testStore("s"), testStore("s")}}}
		}, "store id"},
		{"bad late policy", func() []*Merchant {
			s := testStore("s")
			s.LatePolicy = "keep"
			return []*Merchant{{ID: "a", Stores: []*Store{s}}}
		}, "late_policy"},
		{"bad mode", func() []*Merchant {
			s := testStore("s")
			s.WeChat.Mode = "popup"
			return []*Merchant{{ID: "a", Stores: []*Store{s}}}
		}, "mode"},
		{"negative max", func() []*Merchant {
			return []*Merchant{{ID: "a", MaxAmount: -1, Stores: []*Store{testStore("s")}}}
		}, "max_amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDirectory(tt.ms())
			if !errors.Is(err, ErrInvalidDirectory) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want ErrInvalidDirectory containing %q", err, tt.want)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	s := testStore("s")
	s.WeChat.AppSecret = "wx-secret-value"
	s.Alipay.PrivateKey = "alipay-private-value"
	m := &Merchant{ID: "a", WebhookSecrets: []Secret{"whsec-value"}, Stores: []*Store{s}}
	var b strings.Builder
	fmt.Fprintf(&b, "%v %+v %#v %v", m, m, s, *s)
	slog.New(slog.NewTextHandler(&b, nil)).Info("m", "merchant", m, "store", s)
	for _, secret := range []string{"wx-secret-value", "alipay-private-value", "whsec-value"} {
		if strings.Contains(b.String(), secret) {
			t.Fatalf("secret %q printed", secret)
		}
	}
}

// TestDirectoryReplace: Replace swaps the whole content at once while
// readers run (the race detector watches), and readers see either the old
// merchant set or the new one, never a mix.
func TestDirectoryReplace(t *testing.T) {
	mk := func(id, key string) *Directory {
		d, err := NewDirectory([]*Merchant{{ID: id, APIKeys: []APIKey{APIKeyFor(key)}, Stores: []*Store{{ID: "main"}}}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := mk("old", "sk_test_old")
	next := mk("new", "sk_test_new")
	done := make(chan struct{})
	mixed := make(chan string, 1)
	go func() {
		defer close(done)
		for range 2000 {
			ms := d.Merchants()
			if len(ms) != 1 || (ms[0].ID != "old" && ms[0].ID != "new") {
				select {
				case mixed <- fmt.Sprint(ms):
				default:
				}
			}
			d.Authenticate("sk_test_new")
		}
	}()
	d.Replace(next)
	<-done
	select {
	case m := <-mixed:
		t.Fatalf("a reader saw %s", m)
	default:
	}
	if _, ok := d.Merchant("old"); ok {
		t.Error("the old merchant is still found")
	}
	if m, ok := d.Authenticate("sk_test_new"); !ok || m.ID != "new" {
		t.Errorf("Authenticate(new key) = %v, %v", m, ok)
	}
	if _, ok := d.Authenticate("sk_test_old"); ok {
		t.Error("the old key still authenticates")
	}
	if _, ok := d.Store("new", "main"); !ok {
		t.Error("the new merchant's store is not found")
	}
}
