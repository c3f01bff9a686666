package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// maxRequestBytes caps a protocol request. The real requests are a few KiB.
const maxRequestBytes = 1 << 20

// apiError is an errcode answer with its msg.
type apiError struct {
	code gateway.Code
	msg  string
}

func fail(code gateway.Code) *apiError { return &apiError{code, code.Message()} }

func failMsg(code gateway.Code, msg string) *apiError { return &apiError{code, msg} }

// result is a successful answer: its msg and its data (an object or, for
// paylist, an array).
type result struct {
	msg  string
	data []byte
}

// call is one decoded protocol request.
type call struct {
	st   *store
	data map[string]json.RawMessage
	base string // public URL of the handler, for jsapi_pay_url
}

type endpointFunc func(s *Server, c *call) (result, *apiError)

var endpoints = map[string]endpointFunc{
	"paylist":        (*Server).payList,
	"order":          (*Server).orderList,
	"order/view":     (*Server).orderView,
	"payorder":       (*Server).payOrder,
	"paystatus":      (*Server).payStatus,
	"paycancel":      (*Server).payCancel,
	"payrefund":      (*Server).payRefund,
	"mpconfig/add":   (*Server).mpConfigAdd,
	"mpconfig/query": (*Server).mpConfigQuery,
}

// serveProtocol answers one protocol request. Like the PHP server it answers
// HTTP 200 with an errcode for every request it understands the path of,
// whatever the method or body.
func (s *Server) serveProtocol(w http.ResponseWriter, r *http.Request) {
	name := strings.Trim(strings.TrimPrefix(r.URL.Path, s.cfg.Prefix), "/")
	fn, ok := endpoints[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.cfg.Latency > 0 {
		t := time.NewTimer(s.cfg.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	// Fault injection is decided up front, so that a given request is either
	// answered, failed with 502 (half of them after taking effect) or left
	// hanging after taking effect.
	var fault string
	switch {
	case s.chance(s.cfg.TimeoutRate):
		fault = "timeout"
	case s.chance(s.cfg.FailureRate / (1 - s.cfg.TimeoutRate)):
		fault = "502"
		if s.chance(0.5) {
			s.log.Info("Injected failure before processing", "endpoint", name)
			writeBadGateway(w)
			return
		}
	}
	body := s.handle(w, r, name, fn)
	switch fault {
	case "timeout":
		s.log.Info("Injected timeout after processing", "endpoint", name)
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
		return
	case "502":
		s.log.Info("Injected failure after processing", "endpoint", name)
		writeBadGateway(w)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func writeBadGateway(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = w.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"))
}

// handle checks the envelope of a request, runs the endpoint and writes the
// answer's JSON.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, name string, fn endpointFunc) []byte {
	c, aerr := s.open(w, r)
	var res result
	if aerr == nil {
		res, aerr = fn(s, c)
	}
	if aerr != nil {
		s.log.Debug("Protocol request refused", "endpoint", name, "errcode", int(aerr.code), "msg", aerr.msg)
		return s.errorBody(aerr)
	}
	return s.successBody(c.st.key, res)
}

// open reads the form, finds the store and checks timestamp, sign and data,
// in the order the real server does.
func (s *Server) open(w http.ResponseWriter, r *http.Request) (*call, *apiError) {
	form := readForm(w, r)
	openID := form.Get("open_id")
	if openID == "" {
		return nil, fail(gateway.CodeOpenIDMissing)
	}
	s.mu.Lock()
	st := s.stores[openID]
	s.mu.Unlock()
	if st == nil {
		return nil, fail(gateway.CodeStoreNotFound)
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(form.Get("timestamp")), 10, 64)
	if err != nil || math.Abs(float64(ts-s.now().Unix())) > 600 {
		return nil, fail(gateway.CodeTimestamp)
	}
	if !lowercase(form.Get("sign")) {
		// Doc 5.1 on errcode 5: sha1 and md5 results must be lowercase. The
		// real server compares the text, so an uppercase sign fails there
		// even though its value is right; a client must find out here.
		return nil, fail(gateway.CodeBadSign)
	}
	plain, err := gateway.OpenRequest(st.key, form)
	switch {
	case errors.Is(err, gateway.ErrBadSign) || errors.Is(err, gateway.ErrMissingSign):
		return nil, fail(gateway.CodeBadSign)
	case err != nil:
		return nil, failMsg(gateway.CodeOutNoEmpty, "data加密有问题")
	}
	data := map[string]json.RawMessage{}
	trimmed := bytes.TrimSpace(plain)
	if len(trimmed) > 0 && trimmed[0] == '[' && bytes.Equal(bytes.ReplaceAll(trimmed, []byte(" "), nil), []byte("[]")) {
		// PHP's json_encode writes an empty array for an empty request.
		trimmed = []byte("{}")
	}
	if err := json.Unmarshal(trimmed, &data); err != nil {
		return nil, failMsg(gateway.CodeOutNoEmpty, "data加密有问题")
	}
	return &call{st: st, data: data, base: s.publicBase(r)}, nil
}

// lowercase reports whether s has no uppercase ASCII letter.
func lowercase(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// readForm parses an urlencoded or multipart body. Anything else (a JSON
// body, a GET) yields an empty form, which the caller reports as errcode 8.
func readForm(w http.ResponseWriter, r *http.Request) url.Values {
	if r.Method != http.MethodPost {
		return url.Values{}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(strings.ToLower(ct), "multipart/form-data") {
		if err := r.ParseMultipartForm(maxRequestBytes); err != nil {
			return url.Values{}
		}
		if r.MultipartForm.File != nil {
			_ = r.MultipartForm.RemoveAll()
		}
		return url.Values(r.MultipartForm.Value)
	}
	if err := r.ParseForm(); err != nil {
		return url.Values{}
	}
	return r.PostForm
}

// publicBase is where the handler is reachable: Config.PublicURL, else the
// request's scheme and host and the path that precedes the protocol prefix
// (the handler may be mounted under http.StripPrefix).
func (s *Server) publicBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := r.RequestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	mount := ""
	if i := strings.LastIndex(path, s.cfg.Prefix+"/"); i >= 0 {
		mount = path[:i]
	}
	return scheme + "://" + r.Host + strings.TrimRight(mount, "/")
}

// errorBody writes an error answer: errcode, msg and timestamp, no data and
// no sign, as the real server does.
func (s *Server) errorBody(e *apiError) []byte {
	o := newObject().num("errcode", int64(e.code)).str("msg", e.msg).num("timestamp", s.now().Unix())
	return o.encode(s.cfg.Quirks)
}

// successBody encrypts data and signs the answer over the decoded text of
// every member but sign.
func (s *Server) successBody(key gateway.Key, res result) []byte {
	ts := s.now().Unix()
	hexData := gateway.Encrypt(key, res.data)
	sign := gateway.Sign(key, []gateway.Field{
		{Name: "errcode", Value: "0"},
		{Name: "msg", Value: res.msg},
		{Name: "timestamp", Value: strconv.FormatInt(ts, 10)},
		{Name: "data", Value: hexData},
	})
	o := newObject().num("errcode", 0).str("msg", res.msg).num("timestamp", ts).str("data", hexData).str("sign", sign)
	return o.encode(s.cfg.Quirks)
}

// text returns a request member as text: strings as they are (trimmed),
// numbers as written, null and absent as "".
func (c *call) text(name string) string {
	raw, ok := c.data[name]
	if !ok {
		return ""
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	case 'n', 'f', '{', '[':
		return ""
	case 't':
		return "1"
	}
	return string(raw)
}

// amount reads a whole number of fen: 100, "100", 100.0 and "100.0" are
// accepted. ok is false when the member is absent or empty; valid false when
// it is present but not a whole number.
func (c *call) amount(name string) (n int64, present, valid bool) {
	t := c.text(name)
	if t == "" {
		return 0, false, true
	}
	if v, err := strconv.ParseInt(t, 10, 64); err == nil {
		return v, true, true
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1e15 {
		return 0, true, false
	}
	return int64(f), true, true
}

// logAttrs are the attributes of a payment event; never a key or password.
func orderAttrs(o *order) []any {
	return []any{slog.String("open_id", o.st.openID), slog.String("ord_no", o.ordNo), slog.String("out_no", o.outNo)}
}
