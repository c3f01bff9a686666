package sandbox

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"
)

// The journal records every payorder and payrefund request the sandbox
// processed, with its full contents and outcome, so that a test can check
// afterwards what a client really sent: that an out_no or refund_out_no was
// never sent twice with different contents, that a refund owed was made
// exactly once. It is off unless EnableJournal is called (-journal), since
// it grows with every request.

// PathJournal serves the journal and a dump of every order as JSON,
// relative to Handler(), when the journal is on.
const PathJournal = "/console/journal"

// DefaultJournalLimit caps the journal; later requests are counted, not kept.
const DefaultJournalLimit = 200_000

// redactedPass stands for a shop_pass in the journal: the sha1 of the
// supervisor password works as the password itself at the gateway.
const (
	redactedPassOK    = `"<redacted: matches the store's>"`
	redactedPassWrong = `"<redacted: wrong>"`
)

// JournalEntry is one payorder or payrefund request and what came of it.
type JournalEntry struct {
	// Seq numbers the entries from 1 in the order their answers were decided.
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Endpoint string    `json:"endpoint"` // payorder or payrefund
	OpenID   string    `json:"open_id"`
	// Request is every member of the decrypted data as sent (shop_pass
	// redacted).
	Request map[string]json.RawMessage `json:"request"`
	// Errcode is 0 for a success, else the error answered.
	Errcode int    `json:"errcode"`
	Msg     string `json:"msg"`
	// OrdNo is the order (payorder) or refund order (payrefund) created.
	OrdNo string `json:"ord_no,omitempty"`
	// Answer is the data of a successful answer, decrypted.
	Answer json.RawMessage `json:"answer,omitempty"`
}

// Journal is what PathJournal serves.
type Journal struct {
	Requests []JournalEntry `json:"requests"`
	// Dropped counts requests past the journal's limit.
	Dropped int64 `json:"dropped"`
	// Orders are every order of every store (payments and refunds), oldest
	// first.
	Orders []OrderSnapshot `json:"orders"`
}

// journal is a server's journal. Its state lives beside the Server (in
// journals) rather than in it, so that a server without one pays a single
// map lookup per payorder or payrefund.
type journal struct {
	mu      sync.Mutex
	limit   int
	seq     int64
	dropped int64
	entries []JournalEntry
}

// journals maps a *Server to its *journal once EnableJournal was called.
var journals sync.Map

// EnableJournal starts recording every payorder and payrefund request (see
// Journal) and serves the journal at PathJournal. limit caps the entries
// kept (0: DefaultJournalLimit). Calling it again changes nothing.
func (s *Server) EnableJournal(limit int) {
	if limit <= 0 {
		limit = DefaultJournalLimit
	}
	journals.LoadOrStore(s, &journal{limit: limit})
}

func (s *Server) journalOf() *journal {
	j, ok := journals.Load(s)
	if !ok {
		return nil
	}
	return j.(*journal)
}

// journalRecord adds a processed request to the journal; payOrder and
// payRefund defer it with their named results.
func (s *Server) journalRecord(endpoint string, c *call, res *result, aerr **apiError) {
	j := s.journalOf()
	if j == nil || c == nil {
		return
	}
	e := JournalEntry{At: s.now(), Endpoint: endpoint, OpenID: c.st.openID, Request: make(map[string]json.RawMessage, len(c.data))}
	for k, v := range c.data {
		e.Request[k] = append(json.RawMessage(nil), v...)
	}
	if _, ok := e.Request["shop_pass"]; ok {
		e.Request["shop_pass"] = json.RawMessage(redactedPassWrong)
		if c.text("shop_pass") == c.st.passSHA1 {
			e.Request["shop_pass"] = json.RawMessage(redactedPassOK)
		}
	}
	if *aerr != nil {
		e.Errcode, e.Msg = int(int64((*aerr).code)), (*aerr).msg
	} else {
		e.Msg = res.msg
		e.Answer = append(json.RawMessage(nil), res.data...)
		var d struct {
			OrdNo string `json:"ord_no"`
		}
		if json.Unmarshal(res.data, &d) == nil {
			e.OrdNo = d.OrdNo
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.entries) >= j.limit {
		j.dropped++
		return
	}
	j.seq++
	e.Seq = j.seq
	j.entries = append(j.entries, e)
}

// JournalSnapshot returns a copy of the journal (empty unless enabled) and
// of every order.
func (s *Server) JournalSnapshot() Journal {
	out := Journal{Requests: []JournalEntry{}}
	if j := s.journalOf(); j != nil {
		j.mu.Lock()
		out.Requests = append(out.Requests, j.entries...)
		out.Dropped = j.dropped
		j.mu.Unlock()
	}
	s.mu.Lock()
	all := make([]*order, 0, len(s.orders))
	for _, o := range s.orders {
		all = append(all, o)
	}
	sort.Slice(all, func(i, k int) bool { return all[i].mctID < all[k].mctID })
	out.Orders = make([]OrderSnapshot, len(all))
	for i, o := range all {
		out.Orders[i] = o.snapshot()
	}
	s.mu.Unlock()
	return out
}

// serveJournal answers PathJournal: 404 while the journal is off, so that
// a sandbox mounted in demo mode shows nothing more than before.
func (s *Server) serveJournal(w http.ResponseWriter, r *http.Request) {
	if s.journalOf() == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.JournalSnapshot())
}
