package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

func TestGetAndIsolation(t *testing.T) {
	e := newEnv(t)
	a := e.create(e.keyA, `{"amount":500,"description":"A's"}`)
	id := a["id"].(string)
	r := e.do("GET", "/v1/checkouts/"+id, e.keyA, "")
	if r.status != 200 || r.json(t)["description"] != "A's" || r.json(t)["id"] != id {
		t.Fatalf("own get: %d %s", r.status, r.body)
	}
	// B sees nothing of A's: the same 404 as for an id that never existed.
	missing := e.do("GET", "/v1/checkouts/co_AAAAAAAAAAAAAAAAAAAAAAAA", e.keyB, "")
	for _, req := range [][2]string{{"GET", "/v1/checkouts/" + id}, {"POST", "/v1/checkouts/" + id + "/cancel"}} {
		r := e.do(req[0], req[1], e.keyB, "")
		if r.status != http.StatusNotFound {
			t.Fatalf("B %s %s: %d %s", req[0], req[1], r.status, r.body)
		}
		if string(r.body) != string(missing.body) {
			t.Fatalf("B's 404 differs from a missing id's: %s vs %s", r.body, missing.body)
		}
	}
	if r := e.do("GET", "/v1/checkouts", e.keyB, ""); r.status != 200 || len(r.json(t)["data"].([]any)) != 0 {
		t.Fatalf("B's list: %s", r.body)
	}
	co, _ := e.repo.Get(context.Background(), id)
	if co.Status != checkout.StatusOpen {
		t.Fatalf("B's cancel changed A's checkout: %s", co.Status)
	}
	for _, bad := range []string{"nope", "co_short", "co_" + "!!!!!!!!!!!!!!!!!!!!!!!!", "%00", "co_AAAAAAAAAAAAAAAAAAAAAAAAA"} {
		r := e.do("GET", "/v1/checkouts/"+bad, e.keyA, "")
		if r.status != http.StatusNotFound {
			t.Fatalf("GET %q: %d", bad, r.status)
		}
		r.errorOf(t)
	}
}

func TestList(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 7 {
		m := e.create(e.keyA, fmt.Sprintf(`{"amount":%d}`, 100+i))
		ids = append(ids, m["id"].(string))
		e.clk.Advance(time.Second)
	}
	e.create(e.keyB, `{"amount":1}`)
	for _, i := range []int{1, 4} {
		if r := e.do("POST", "/v1/checkouts/"+ids[i]+"/cancel", e.keyA, ""); r.status != 200 {
			t.Fatal(r.status)
		}
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		path := "/v1/checkouts?limit=3"
		if cursor != "" {
			path += "&starting_after=" + cursor
		}
		r := e.do("GET", path, e.keyA, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		m := r.json(t)
		for _, c := range m["data"].([]any) {
			got = append(got, c.(map[string]any)["id"].(string))
		}
		if m["has_more"] != true {
			break
		}
		cursor = m["next_cursor"].(string)
	}
	if len(got) != 7 {
		t.Fatalf("listed %d, want 7", len(got))
	}
	for i := range got {
		if got[i] != ids[6-i] {
			t.Fatalf("order: item %d = %s, want %s", i, got[i], ids[6-i])
		}
	}
	r := e.do("GET", "/v1/checkouts?status=cancelled", e.keyA, "")
	data := r.json(t)["data"].([]any)
	if len(data) != 2 || data[0].(map[string]any)["id"] != ids[4] || data[1].(map[string]any)["id"] != ids[1] {
		t.Fatalf("cancelled filter: %s", r.body)
	}
	bad := []struct{ query, param string }{
		{"status=done", "status"}, {"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=x", "limit"},
		{"starting_after=co_AAAAAAAAAAAAAAAAAAAAAAAA", "starting_after"}, {"starting_after=garbage", "starting_after"},
	}
	for _, b := range bad {
		r := e.do("GET", "/v1/checkouts?"+b.query, e.keyA, "")
		if r.status != 400 {
			t.Fatalf("%s: %d", b.query, r.status)
		}
		if _, p := r.errorOf(t); p != b.param {
			t.Fatalf("%s: param %s", b.query, p)
		}
	}
	// Another merchant's id is not a cursor here.
	if r := e.do("GET", "/v1/checkouts?starting_after="+ids[0], e.keyB, ""); r.status != 400 {
		t.Fatalf("foreign cursor: %d", r.status)
	}
}
