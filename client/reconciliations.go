package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Reconciliation is a store's gateway day compared with the gateway's own
// order list (schemas Reconciliation and ReconciliationSummary: lists
// leave Differences empty).
type Reconciliation struct {
	Object    string    `json:"object"`
	ID        string    `json:"id"`
	StoreID   string    `json:"store_id"`
	Date      string    `json:"date"` // YYYY-MM-DD, the gateway day (UTC+8)
	Runs      int       `json:"runs"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Gateway   struct {
		Payments      int   `json:"payments"`
		PaymentAmount int64 `json:"payment_amount"`
		Refunds       int   `json:"refunds"`
		RefundAmount  int64 `json:"refund_amount"`
	} `json:"gateway"`
	Sent     int `json:"sent"`
	InFlight int `json:"in_flight,omitempty"`
	Counts   struct {
		Open         int            `json:"open"`
		AutoFixed    int            `json:"auto_fixed"`
		Acknowledged int            `json:"acknowledged"`
		Resolved     int            `json:"resolved"`
		ByClass      map[string]int `json:"by_class"`
	} `json:"counts"`
	Differences []Difference `json:"differences,omitempty"`
}

// Difference is one difference a reconciliation found (schema Difference).
type Difference struct {
	ID            string    `json:"id"`
	Class         string    `json:"class"`
	Status        string    `json:"status"` // open, auto_fixed, acknowledged, resolved
	Explained     bool      `json:"explained,omitempty"`
	OutNo         string    `json:"out_no"`
	OrdNo         string    `json:"ord_no,omitempty"`
	Refund        bool      `json:"refund,omitempty"`
	CheckoutID    string    `json:"checkout_id,omitempty"`
	GatewayAmount *int64    `json:"gateway_amount,omitempty"`
	ServiceAmount *int64    `json:"service_amount,omitempty"`
	GatewayState  string    `json:"gateway_state,omitempty"`
	ServiceState  string    `json:"service_state,omitempty"`
	Detail        string    `json:"detail,omitempty"`
	Note          string    `json:"note,omitempty"`
	EventID       string    `json:"event_id,omitempty"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ReconciliationCreateParams is the body of CreateReconciliation.
type ReconciliationCreateParams struct {
	StoreID string `json:"store_id"`
	Date    string `json:"date"` // YYYY-MM-DD (UTC+8)
}

// ReconciliationListParams filters ListReconciliations.
type ReconciliationListParams struct {
	StoreID       string
	Date          string
	Status        string // "has_open_differences" or "clean"
	Limit         int
	StartingAfter string
}

// ReconciliationList is a page of runs, newest first.
type ReconciliationList struct {
	Object     string           `json:"object"`
	Data       []Reconciliation `json:"data"`
	HasMore    bool             `json:"has_more"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// DifferenceUpdateParams acknowledges or resolves a difference.
type DifferenceUpdateParams struct {
	Status string `json:"status"` // "acknowledged" or "resolved"
	Note   string `json:"note,omitempty"`
}

// CreateReconciliation reconciles a store's day now, or again (POST
// /v1/reconciliations). Not retried automatically: a 409
// reconciliation_in_progress or 502 gateway_unavailable is yours to retry.
func (c *Client) CreateReconciliation(ctx context.Context, p *ReconciliationCreateParams, opts ...RequestOption) (*Reconciliation, error) {
	var out Reconciliation
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/reconciliations", body: p}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetReconciliation reads one run with its differences.
func (c *Client) GetReconciliation(ctx context.Context, id string, opts ...RequestOption) (*Reconciliation, error) {
	var out Reconciliation
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/reconciliations/" + url.PathEscape(id)}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListReconciliations reads one page of runs, without their differences.
func (c *Client) ListReconciliations(ctx context.Context, p *ReconciliationListParams, opts ...RequestOption) (*ReconciliationList, error) {
	q := url.Values{}
	if p != nil {
		setString(q, "store_id", p.StoreID)
		setString(q, "date", p.Date)
		setString(q, "status", p.Status)
		setLimit(q, p.Limit)
		setString(q, "starting_after", p.StartingAfter)
	}
	var out ReconciliationList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/reconciliations", query: q}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateDifference acknowledges or resolves a difference (POST
// /v1/reconciliations/{id}/differences/{did}); a resolved one stays
// resolved (409 invalid_transition).
func (c *Client) UpdateDifference(ctx context.Context, runID, differenceID string, p *DifferenceUpdateParams, opts ...RequestOption) (*Difference, error) {
	var out Difference
	path := "/v1/reconciliations/" + url.PathEscape(runID) + "/differences/" + url.PathEscape(differenceID)
	if err := c.do(ctx, request{method: http.MethodPost, path: path, body: p}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}
