package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// startMain runs Main in the background and returns the protocol base URL
// and the printed store lines.
func startMain(t *testing.T, args ...string) (base string, stores []string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &lockedWriter{}
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, args, pw, stderr)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	deadline := time.AfterFunc(10*time.Second, func() { pw.CloseWithError(io.ErrUnexpectedEOF) })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if b, ok := strings.CutPrefix(line, "Protocol base URL: "); ok {
			base = b
		}
		if strings.HasPrefix(line, "Store ") {
			stores = append(stores, line)
		}
		if base != "" && len(stores) == countStores(args) {
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("Main printed no base URL; stderr: %s", stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return base, stores, func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("Main did not return after cancel")
			return -1
		}
	}
}

func countStores(args []string) int {
	n := 0
	for _, a := range args {
		if a == "-store" {
			n++
		}
	}
	return max(n, 1)
}

// lockedWriter collects Main's logs, written from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func paylistVia(t *testing.T, base, openID, openKey string) []map[string]any {
	t.Helper()
	key, err := gateway.ParseKey(openKey)
	if err != nil {
		t.Fatal(err)
	}
	f := gateway.SealRequest(key, openID, time.Now().Unix(), []byte(`{"pmt_type":"2,3,4"}`))
	resp, err := http.Post(base+"/paylist", "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	data, err := gateway.OpenResponse(key, "paylist", body)
	if err != nil {
		t.Fatalf("paylist through the standalone sandbox: %v", err)
	}
	var list []map[string]any
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	return list
}

func TestMainWithStores(t *testing.T) {
	base, stores, stop := startMain(t, "-addr", "127.0.0.1:0",
		"-store", testOpenID+":"+testOpenKey+":s3cret", "-store", otherOpenID+":"+otherKey)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/mct1") {
		t.Fatalf("base URL %q", base)
	}
	if len(stores) != 2 || !strings.Contains(stores[0], "shop_pass=s3cret") || !strings.Contains(stores[1], "shop_pass=123456") {
		t.Fatalf("store lines %q", stores)
	}
	if list := paylistVia(t, base, testOpenID, testOpenKey); len(list) != 2 {
		t.Fatalf("paylist %v", list)
	}
	if list := paylistVia(t, base, otherOpenID, otherKey); len(list) != 2 {
		t.Fatalf("paylist %v", list)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestMainGeneratesAStore(t *testing.T) {
	base, stores, stop := startMain(t, "-addr", "127.0.0.1:0", "-prefix", "gw")
	if !strings.HasSuffix(base, "/gw") || len(stores) != 1 {
		t.Fatalf("base %q, stores %q", base, stores)
	}
	var id, key string
	for _, f := range strings.Fields(stores[0]) {
		if v, ok := strings.CutPrefix(f, "open_id="); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(f, "open_key="); ok {
			key = v
		}
	}
	if len(id) != 32 || len(key) != 32 {
		t.Fatalf("generated credentials %q", stores[0])
	}
	paylistVia(t, base, id, key)
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestMainBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-store", "onlyid"},
		{"-store", "id:shortkey"},
		{"-store", "bad id!:" + testOpenKey},
		{"-failure-rate", "2"},
		{"-prefix", "/pay"},
		{"stray"},
		{"-addr", "256.0.0.1:99999"},
	} {
		var out, errb strings.Builder
		if code := Main(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), &out, &errb); code == 0 {
			t.Errorf("%q: exit code 0", args)
		}
		if strings.Contains(out.String(), testOpenKey) {
			t.Errorf("%q: credentials printed on failure", args)
		}
	}
}

func TestMainShutdownEndsHangingRequests(t *testing.T) {
	base, _, stop := startMain(t, "-addr", "127.0.0.1:0", "-timeout-rate", "1", "-store", testOpenID+":"+testOpenKey)
	f := gateway.SealRequest(testKey, testOpenID, time.Now().Unix(), []byte(`{"pmt_type":"2"}`))
	started := make(chan struct{})
	go func() {
		close(started)
		resp, err := http.Post(base+"/paylist", "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	time.Sleep(100 * time.Millisecond)
	begin := time.Now()
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if el := time.Since(begin); el > 3*time.Second {
		t.Fatalf("shutdown took %v with a hanging request", el)
	}
}

// TestMainDoctorKnobs: the standalone sandbox can be set up the way
// checkout doctor's checks need to see fail: a skewed clock, a paylist
// without a tag, appids bound or not.
func TestMainDoctorKnobs(t *testing.T) {
	base, _, stop := startMain(t, "-addr", "127.0.0.1:0", "-store", testOpenID+":"+testOpenKey,
		"-pay-methods", "Alipay,WeixinBERL,Cash", "-bind", testOpenID+":WeixinBERL:wx1234567890abcdef")
	defer stop()
	st, err := gateway.NewStore(base, testOpenID, testOpenKey, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := gateway.NewClient()
	methods, err := c.PayList(ctx, st, gateway.PayListTypes(0, 2, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, m := range methods {
		tags = append(tags, string(m.Tag)+"="+string(m.Types))
	}
	if got := strings.Join(tags, " "); got != "Alipay=2,3,4 WeixinBERL=2,3,4 Cash=0" {
		t.Errorf("paylist %s", got)
	}
	bound, err := c.MPConfigQuery(ctx, st, "WeixinBERL")
	if err != nil || len(bound) != 1 || bound[0].SubAppID != "wx1234567890abcdef" {
		t.Errorf("mpconfig/query: %v %v", bound, err)
	}

	skewed, _, stopSkewed := startMain(t, "-addr", "127.0.0.1:0", "-store", testOpenID+":"+testOpenKey, "-clock-skew", "1h")
	defer stopSkewed()
	st2, err := gateway.NewStore(skewed, testOpenID, testOpenKey, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Clock(ctx, st2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != gateway.CodeTimestamp || r.Offset() < time.Hour-5*time.Second || r.Offset() > time.Hour+5*time.Second {
		t.Errorf("skewed sandbox: errcode %d, offset %s; want 9 and 1h", r.Code, r.Offset())
	}
	if _, err := c.PayList(ctx, st2, gateway.PayListTypes(2)); !errors.Is(err, gateway.ErrTimestamp) {
		t.Errorf("paylist on a skewed sandbox: %v, want errcode 9", err)
	}
}

// TestMainDoctorKnobsBad: malformed knobs are refused with exit 2.
func TestMainDoctorKnobsBad(t *testing.T) {
	for _, args := range [][]string{
		{"-pay-methods", "Weixin,,Alipay"},
		{"-pay-methods", "Wei xin"},
		{"-pay-methods", "Weixin,Weixin"},
		{"-bind", "only:two"},
		{"-bind", testOpenID + ":Alipay:"},
		{"-store", testOpenID + ":" + testOpenKey, "-bind", "unknownstore:Weixin:wx1234567890abcdef"},
		{"-store", testOpenID + ":" + testOpenKey, "-bind", testOpenID + ":NoSuchTag:wx1234567890abcdef"},
		{"-clock-skew", "soon"},
	} {
		var out, errb strings.Builder
		if code := Main(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), &out, &errb); code != 2 {
			t.Errorf("%q: exit code %d, want 2", args, code)
		}
	}
}
