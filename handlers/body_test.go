package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// redisState is every key under prefix with its value, read by type
// (DUMP would do, but miniredis knows it for strings only).
func redisState(t *testing.T, e *evEnv) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := redistest.Keys(e.rdb, e.prefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		typ, err := e.rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = e.rdb.Get(ctx, k).Result()
		case "hash":
			v, err = e.rdb.HGetAll(ctx, k).Result()
		case "zset":
			v, err = e.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "set":
			var m []string
			m, err = e.rdb.SMembers(ctx, k).Result()
			sort.Strings(m)
			v = m
		case "list":
			v, err = e.rdb.LRange(ctx, k, 0, -1).Result()
		default:
			t.Fatalf("key %s of type %s", k, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		out[k] = typ + fmt.Sprint(v)
	}
	return out
}

// TestBodyReadErrors: a body over the limit is 413 body_too_large; a body
// whose read fails otherwise (the client went away) is 400 invalid_body;
// neither changes anything in Redis, idempotency keys included.
func TestBodyReadErrors(t *testing.T) {
	e := newEvEnv(t)
	req := httptest.NewRequest("POST", "/v1/checkouts", strings.NewReader(`{"amount":1000}`))
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	w := httptest.NewRecorder()
	handler := e.api.Config.Handler
	handler.ServeHTTP(w, req)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var co struct{ ID string }
	if err := json.Unmarshal(w.Body.Bytes(), &co); err != nil || co.ID == "" {
		t.Fatalf("create: %s", w.Body)
	}
	created := co.ID
	for _, path := range []string{"/v1/checkouts", "/v1/checkouts/" + created + "/refunds"} {
		for _, tc := range []struct {
			name   string
			body   func() io.Reader
			status int
			code   string
		}{
			{"over the limit", func() io.Reader {
				return strings.NewReader(`{"reason":"` + strings.Repeat("x", handlers.MaxBodyBytes) + `"}`)
			},
				http.StatusRequestEntityTooLarge, "body_too_large"},
			{"read fails", func() io.Reader {
				return io.MultiReader(strings.NewReader(`{"amount":10`), iotest.ErrReader(errors.New("connection reset by peer")))
			}, http.StatusBadRequest, "invalid_body"},
		} {
			before := redisState(t, e)
			req := httptest.NewRequest("POST", path, tc.body())
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "body-"+tc.code)
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, req)
			res := &response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
			if code, _ := res.errorOf(t); res.status != tc.status || code != tc.code {
				t.Errorf("%s %s: %d %s; want %d %s", path, tc.name, res.status, res.body, tc.status, tc.code)
			}
			if strings.Contains(string(res.body), "connection reset") {
				t.Errorf("%s %s: the read error leaks: %s", path, tc.name, res.body)
			}
			if after := redisState(t, e); !sameState(before, after) {
				t.Errorf("%s %s changed Redis: %d keys before, %d after", path, tc.name, len(before), len(after))
			}
		}
	}
}

func sameState(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
