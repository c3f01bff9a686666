package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeGateway is a minimal server side of the protocol for the client's unit
// tests: it checks each request's envelope and answers what the test says,
// encrypted and signed like the real server. The full simulator lives in
// gateway/sandbox.
type fakeGateway struct {
	t      *testing.T
	key    Key
	openID string
	// php writes the answer the way PHP's json_encode does (\uXXXX, \/).
	php bool
	// answer gives the errcode, msg and plaintext data for one request.
	answer func(endpoint string, data []byte) (Code, string, []byte)
	// raw, when set, writes the whole body itself.
	raw   func(w http.ResponseWriter, endpoint string, data []byte)
	calls atomic.Int32
	srv   *httptest.Server
}

const testOpenID = "87f46f5db1b65f0ac195285f49ee6958"

func newFakeGateway(t *testing.T) (*fakeGateway, *Store) {
	t.Helper()
	f := &fakeGateway{t: t, key: MustParseKey(docKey), openID: testOpenID}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	st, err := NewStore(f.srv.URL+"/mct1", f.openID, docKey, "123456")
	if err != nil {
		t.Fatal(err)
	}
	return f, st
}

func (f *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	endpoint := strings.TrimPrefix(r.URL.Path, "/mct1/")
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		f.t.Errorf("%s %s with %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("form: %v", err)
	}
	if r.PostForm.Get("open_id") != f.openID {
		f.t.Errorf("open_id = %q", r.PostForm.Get("open_id"))
	}
	ts, _ := strconv.ParseInt(r.PostForm.Get("timestamp"), 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d > time.Minute || d < -time.Minute {
		f.t.Errorf("timestamp %d is %s off", ts, d)
	}
	data, err := OpenRequest(f.key, r.PostForm)
	if err != nil {
		f.t.Errorf("request envelope: %v", err)
	}
	if f.raw != nil {
		f.raw(w, endpoint, data)
		return
	}
	code, msg, plain := f.answer(endpoint, data)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(f.envelope(code, msg, plain))
}

// envelope writes a signed answer; errors carry no data and no sign.
func (f *fakeGateway) envelope(code Code, msg string, plain []byte) []byte {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	if code != CodeOK || plain == nil {
		return []byte(fmt.Sprintf(`{"errcode":%d,"msg":%s,"timestamp":%s}`, code, f.quote(msg), ts))
	}
	if f.php {
		plain = []byte(phpEscape(string(plain)))
	}
	data := Encrypt(f.key, plain)
	sign := Sign(f.key, []Field{{"errcode", "0"}, {"msg", msg}, {"timestamp", ts}, {"data", data}})
	return []byte(fmt.Sprintf(`{"errcode":"0","msg":%s,"timestamp":%s,"data":"%s","sign":"%s"}`, f.quote(msg), ts, data, sign))
}

func (f *fakeGateway) quote(s string) string {
	q := strconv.Quote(s)
	if f.php {
		return phpEscape(q)
	}
	return q
}

// phpEscape rewrites JSON text the way PHP's json_encode writes it: every
// non-ASCII character as \uXXXX (surrogate pairs beyond the BMP) and '/' as
// '\/'. It is only applied to text whose strings hold no raw backslash-u.
func phpEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '/':
			b.WriteString(`\/`)
		case r >= 0x10000:
			r1, r2 := utf16Pair(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		case r >= utf8.RuneSelf:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
