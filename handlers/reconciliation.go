package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/reconciliation"
)

// Reconciliations runs and lists the daily reconciliations with the
// gateway; *reconciliation.Service implements it.
type Reconciliations interface {
	Reconcile(ctx context.Context, merchantID, storeID, date string) (*reconciliation.Run, error)
	Get(ctx context.Context, merchantID, runID string) (*reconciliation.Run, error)
	List(ctx context.Context, merchantID string, q reconciliation.ListQuery) ([]*reconciliation.Run, string, error)
	SetStatus(ctx context.Context, merchantID, runID, diffID string, to reconciliation.Status, note string) (*reconciliation.Difference, error)
}

// reconcileTimeout bounds an on-demand run: a day of a busy store is a few
// pages of the gateway's list and some confirmations.
const reconcileTimeout = 2 * time.Minute

// reconciliationHandlers serves the reconciliations API.
type reconciliationHandlers struct {
	*handler
	svc Reconciliations
}

// reconciliationJSON is a run with its differences (always a list).
type reconciliationJSON struct {
	Object string `json:"object"`
	*reconciliation.Run
	Differences []reconciliation.Difference `json:"differences"`
}

// reconciliationSummaryJSON is a run in a list, without its differences.
type reconciliationSummaryJSON struct {
	Object string `json:"object"`
	*reconciliation.Run
}

type reconciliationListJSON struct {
	Object     string                      `json:"object"`
	Data       []reconciliationSummaryJSON `json:"data"`
	HasMore    bool                        `json:"has_more"`
	NextCursor string                      `json:"next_cursor,omitempty"`
}

func reconciliationView(r *reconciliation.Run) reconciliationJSON {
	ds := r.Differences
	if ds == nil {
		ds = []reconciliation.Difference{}
	}
	return reconciliationJSON{Object: "reconciliation", Run: r, Differences: ds}
}

// readJSONBody checks the content type, reads and decodes a body into v.
func readJSONBody(c *gin.Context, v any) error {
	body, err := readJSON(c)
	if err != nil {
		return err
	}
	if err := decodeStrict(body, v); err != nil {
		return err
	}
	return nil
}

// create is POST /v1/reconciliations {"store_id", "date"}: reconcile one of
// the merchant's stores for a gateway day (YYYY-MM-DD, UTC+8; today so far,
// where numbers sent in the last minutes are left to a later run and
// counted in in_flight), or again, and answer 200 with the run and its
// differences.
func (r *reconciliationHandlers) create(c *gin.Context) {
	var req struct {
		StoreID *string `json:"store_id"`
		Date    *string `json:"date"`
	}
	if err := readJSONBody(c, &req); err != nil {
		r.fail(c, err)
		return
	}
	m := merchantOf(c)
	switch {
	case req.StoreID == nil || *req.StoreID == "":
		r.fail(c, invalid("store_id", "required: the id of one of your stores"))
		return
	case req.Date == nil:
		r.fail(c, invalid("date", "required: the gateway day, YYYY-MM-DD (UTC+8)"))
		return
	}
	st, ok := m.Store(*req.StoreID)
	if !ok {
		r.fail(c, invalid("store_id", "unknown store"))
		return
	}
	if live := liveKeyOf(c); live == st.Sandbox {
		msg := "a test API key (sk_test_) can only use sandbox stores"
		if live {
			msg = "a live API key cannot use a sandbox store"
		}
		r.fail(c, invalid("store_id", msg))
		return
	}
	if _, err := reconciliation.ParseDate(*req.Date); err != nil {
		r.fail(c, invalid("date", "must be a date, YYYY-MM-DD"))
		return
	}
	// The run goes on if the caller hangs up: it is stored either way and a
	// retry finds it (or ErrBusy while it runs).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), reconcileTimeout)
	defer cancel()
	run, err := r.svc.Reconcile(ctx, m.ID, st.ID, *req.Date)
	if err != nil {
		r.fail(c, unavailable("reconcile", err), reconcileRules...)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, reconciliationView(run))
}

// list is GET /v1/reconciliations?store_id=&date=&status=&limit=&starting_after=:
// the merchant's runs, newest first, without their differences. status is
// has_open_differences or clean.
func (r *reconciliationHandlers) list(c *gin.Context) {
	m := merchantOf(c)
	q := reconciliation.ListQuery{StoreID: c.Query("store_id"), Date: c.Query("date"), After: c.Query("starting_after")}
	if q.StoreID != "" {
		if _, ok := m.Store(q.StoreID); !ok {
			r.fail(c, invalid("store_id", "unknown store"))
			return
		}
	}
	if q.Date != "" {
		if _, err := reconciliation.ParseDate(q.Date); err != nil {
			r.fail(c, invalid("date", "must be a date, YYYY-MM-DD"))
			return
		}
	}
	switch c.Query("status") {
	case "":
	case "has_open_differences":
		q.Open = new(true)
	case "clean":
		q.Open = new(false)
	default:
		r.fail(c, invalid("status", "must be has_open_differences or clean"))
		return
	}
	limit, err := pageLimit(c)
	if err != nil {
		r.fail(c, err)
		return
	}
	q.Limit = limit
	page, next, err := r.svc.List(c.Request.Context(), m.ID, q)
	if err != nil {
		r.fail(c, unavailable("list reconciliations", err))
		return
	}
	out := reconciliationListJSON{Object: "list", Data: make([]reconciliationSummaryJSON, 0, len(page)), HasMore: next != "", NextCursor: next}
	for _, run := range page {
		out.Data = append(out.Data, reconciliationSummaryJSON{Object: "reconciliation", Run: run})
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
}

// get is GET /v1/reconciliations/:id: one run with its differences.
// Another merchant's run is 404, like a missing one.
func (r *reconciliationHandlers) get(c *gin.Context) {
	run, err := r.svc.Get(c.Request.Context(), merchantOf(c).ID, c.Param("id"))
	if err != nil {
		r.fail(c, unavailable("read reconciliation", err))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, reconciliationView(run))
}

// setStatus is POST /v1/reconciliations/:id/differences/:did
// {"status": "acknowledged"|"resolved", "note": "…"}: the merchant has seen
// a difference, or dealt with it. It answers 200 with the difference.
func (r *reconciliationHandlers) setStatus(c *gin.Context) {
	var req struct {
		Status *string `json:"status"`
		Note   string  `json:"note"`
	}
	if err := readJSONBody(c, &req); err != nil {
		r.fail(c, err)
		return
	}
	if req.Status == nil || (*req.Status != string(reconciliation.StatusAcknowledged) && *req.Status != string(reconciliation.StatusResolved)) {
		r.fail(c, invalid("status", "must be acknowledged or resolved"))
		return
	}
	d, err := r.svc.SetStatus(c.Request.Context(), merchantOf(c).ID, c.Param("id"), c.Param("did"),
		reconciliation.Status(*req.Status), req.Note)
	if err != nil {
		r.fail(c, unavailable("update difference", err), differenceRules...)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, d)
}
