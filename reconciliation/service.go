package reconciliation

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// Gateway is what a run asks the gateway; *gateway.Client implements it.
type Gateway interface {
	Orders(ctx context.Context, st *gateway.Store, q *gateway.OrderQuery) (*gateway.OrderPage, error)
	OrderView(ctx context.Context, st *gateway.Store, ref gateway.OrderRef) (*gateway.Order, error)
}

// Payments is the normal confirmation path a run fixes late records
// through, and where it reads refunds; *payments.Service implements it.
type Payments interface {
	Confirm(ctx context.Context, outNo string) (payments.Result, error)
	ResolveRefund(ctx context.Context, checkoutID string, n int) (*payments.Refund, error)
	Refunds(ctx context.Context, checkoutID string) ([]payments.Refund, error)
}

// Config is what a Service needs.
type Config struct {
	Redis     redis.UniversalClient
	Repo      *checkout.Repo
	Directory *checkout.Directory
	// Accounts are the stores' gateway accounts.
	Accounts *payments.Accounts
	Gateway  Gateway
	Payments Payments
	// Events receives the reconciliation.mismatch alerts; *webhook.Service.
	Events payments.Emitter
	Logger *slog.Logger
	// Clock is the service's clock (default time.Now).
	Clock func() time.Time
	// Prefix starts every key (default "rc:"); no braces.
	Prefix string
	// Retention is how long runs and differences are kept (default
	// checkout.DefaultRetention).
	Retention time.Duration
	// Lease is how long a claimed run is protected before a crash of its
	// runner is assumed (default 2 min; it is renewed while the run goes on).
	Lease time.Duration
}

// Service runs, stores and lists reconciliations. It is safe for
// concurrent use; any number of replicas may run one on the same Redis.
type Service struct {
	rdb       redis.UniversalClient
	repo      *checkout.Repo
	dir       *checkout.Directory
	accounts  *payments.Accounts
	gw        Gateway
	pay       Payments
	events    payments.Emitter
	log       *slog.Logger
	now       func() time.Time
	prefix    string
	retention time.Duration
	leaseFor  time.Duration
}

// New checks cfg and builds a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Redis == nil, cfg.Repo == nil, cfg.Directory == nil, cfg.Accounts == nil, cfg.Gateway == nil, cfg.Payments == nil, cfg.Events == nil:
		return nil, errors.New("reconciliation: Redis, Repo, Directory, Accounts, Gateway, Payments and Events are required")
	case strings.ContainsAny(cfg.Prefix, "{}"):
		return nil, errors.New("reconciliation: Prefix must not contain braces")
	}
	s := &Service{
		rdb: cfg.Redis, repo: cfg.Repo, dir: cfg.Directory, accounts: cfg.Accounts, gw: cfg.Gateway, pay: cfg.Payments, events: cfg.Events,
		log: cfg.Logger, now: cfg.Clock, prefix: cfg.Prefix, retention: cfg.Retention, leaseFor: cfg.Lease,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.prefix == "" {
		s.prefix = "rc:"
	}
	if s.retention <= 0 {
		s.retention = checkout.DefaultRetention
	}
	if s.leaseFor <= 0 {
		s.leaseFor = 2 * time.Minute
	}
	return s, nil
}

// store finds the gateway account of a merchant's store.
func (s *Service) store(merchantID, storeID string) (*gateway.Store, error) {
	gs, ok := s.accounts.Of(merchantID, storeID)
	if !ok || !validKeyPart(merchantID) || !validKeyPart(storeID) {
		return nil, fmt.Errorf("%w: no store %.64q", ErrInvalid, storeID)
	}
	return gs, nil
}

// checkDay refuses days that have not begun (at the gateway, UTC+8) and
// days older than what is kept. Today may be reconciled so far: the daily
// run does it again, whole, after midnight.
func (s *Service) checkDay(day time.Time) error {
	now := s.now()
	switch {
	case day.After(dayOf(now)):
		return fmt.Errorf("%w: date %s has not begun (UTC+8)", ErrInvalid, day.Format(dateLayout))
	case day.Before(dayOf(now.Add(-s.retention))):
		return fmt.Errorf("%w: date %s is older than the retention", ErrInvalid, day.Format(dateLayout))
	}
	return nil
}

// Reconcile runs the reconciliation of store storeID of merchantID for the
// gateway day date (YYYY-MM-DD, UTC+8; today is reconciled so far), or runs
// it again, and returns the run with its differences. ErrInvalid for an
// unknown store or a bad, future or expired day, ErrBusy when another process is running it, ErrGateway
// when the gateway cannot be asked.
func (s *Service) Reconcile(ctx context.Context, merchantID, storeID, date string) (*Run, error) {
	return s.reconcile(ctx, merchantID, storeID, date, false)
}

func (s *Service) reconcile(ctx context.Context, mid, sid, date string, daily bool) (*Run, error) {
	gs, err := s.store(mid, sid)
	if err != nil {
		return nil, err
	}
	day, err := ParseDate(date)
	if err != nil {
		return nil, err
	}
	if err := s.checkDay(day); err != nil {
		return nil, err
	}
	token := rand.Text()
	got, err := s.lease(ctx, mid, sid, compact(date), token, false)
	if err != nil {
		return nil, err
	}
	if !got {
		return nil, fmt.Errorf("reconciliation of %s/%s %s: %w", mid, sid, date, ErrBusy)
	}
	defer s.release(context.WithoutCancel(ctx), mid, sid, compact(date), token)
	if daily {
		// Checked under the lease: another replica may have finished the
		// day between our look and our claim.
		if done, err := s.dailyDone(ctx, mid, sid, date); err != nil || done {
			return nil, err
		}
	}
	// Keep the lease while the run goes on; should it be lost (this process
	// stalled past it and another took over), stop.
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go s.keepLease(rctx, cancel, mid, sid, compact(date), token)

	r, err := s.run(rctx, gs, mid, sid, day)
	if cause := context.Cause(rctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	if err != nil {
		return nil, err
	}
	if daily {
		if err := s.rdb.Set(ctx, s.keyDaily(mid, sid, compact(date)), "done", 72*time.Hour).Err(); err != nil {
			return r, fmt.Errorf("reconciliation %s: mark the daily run done: %w", r.ID, err)
		}
	}
	return r, nil
}

var errLeaseLost = errors.New("reconciliation: lease lost to another process")

func (s *Service) keepLease(ctx context.Context, cancel context.CancelCauseFunc, mid, sid, day, token string) {
	t := time.NewTicker(max(s.leaseFor/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := s.lease(ctx, mid, sid, day, token, true)
		if err == nil && !ok {
			cancel(errLeaseLost)
			return
		}
	}
}

func (s *Service) dailyDone(ctx context.Context, mid, sid, date string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.keyDaily(mid, sid, compact(date))).Result()
	if err != nil {
		return false, fmt.Errorf("reconciliation %s/%s %s: %w", mid, sid, date, err)
	}
	return n == 1, nil
}

// run compares, stores and alerts.
func (s *Service) run(ctx context.Context, gs *gateway.Store, mid, sid string, day time.Time) (*Run, error) {
	date := day.Format(dateLayout)
	runID := RunID(mid, sid, date)
	cmp := &comparison{s: s, gs: gs, mid: mid, sid: sid, day: day, runID: runID, found: map[string]*Difference{}, now: s.now()}
	if err := cmp.compare(ctx); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	r, err := s.update(ctx, mid, sid, date, func(r *Run, diffs map[string]Difference) (*Run, error) {
		if r == nil {
			r = &Run{ID: runID, MerchantID: mid, StoreID: sid, Date: date, CreatedAt: now}
		}
		r.Runs++
		r.UpdatedAt, r.Gateway, r.Sent, r.InFlight = now, cmp.totals, cmp.sent, cmp.inFlight
		merge(diffs, cmp.found, now)
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.index(ctx, r); err != nil {
		return r, err
	}
	if err := s.alert(ctx, r); err != nil {
		return r, err
	}
	s.log.Info("Reconciliation done", "merchant_id", mid, "store_id", sid, "date", date, "reconciliation_id", r.ID,
		"gateway_orders", r.Gateway.Payments+r.Gateway.Refunds, "sent", r.Sent, "open", r.Counts.Open,
		"auto_fixed", r.Counts.AutoFixed, "in_flight", r.InFlight, "differences", len(r.Differences))
	return s.Get(ctx, mid, r.ID)
}

// merge folds what a run found into the stored differences: new ones are
// added, known ones updated (a merchant's acknowledgement stands, a resolved
// one found again is reopened, an auto-fixed one stays fixed), and open
// ones no longer found are resolved.
func merge(diffs map[string]Difference, found map[string]*Difference, now time.Time) {
	for id, f := range found {
		d, had := diffs[id]
		if !had {
			f.FirstSeen, f.LastSeen, f.UpdatedAt = now, now, now
			diffs[id] = *f
			continue
		}
		status, note, evt, first := d.Status, d.Note, d.EventID, d.FirstSeen
		d = *f
		d.Note, d.EventID, d.FirstSeen, d.LastSeen = note, evt, first, now
		switch f.Status {
		case StatusOpen:
			// Still there: the merchant's acknowledgement stands; a fix or
			// a resolution that did not hold is reopened.
			if status == StatusAcknowledged {
				d.Status = status
			}
		case StatusAutoFixed:
			if status == StatusAcknowledged || status == StatusResolved {
				d.Status = status
			}
		default:
			if status == StatusResolved {
				d.Status = status
			}
		}
		if d.Status != status {
			d.UpdatedAt = now
		} else {
			d.UpdatedAt = diffs[id].UpdatedAt
		}
		diffs[id] = d
	}
	for id, d := range diffs {
		if _, still := found[id]; !still && d.Status == StatusOpen {
			d.Status, d.UpdatedAt = StatusResolved, now
			d.Detail = strings.TrimSpace(d.Detail + " (no longer found on a re-run)")
			diffs[id] = d
		}
	}
}

// alert raises one reconciliation.mismatch event per open difference, with
// an id derived from the difference: emitting again after a crash between
// the emit and its mark sends nothing twice.
func (s *Service) alert(ctx context.Context, r *Run) error {
	for _, d := range r.Differences {
		if d.Status != StatusOpen || d.EventID != "" {
			continue
		}
		e, err := webhook.NewReconciliationEvent(r.MerchantID, d.CheckoutID, webhook.Reconciliation{
			ID: r.ID, StoreID: r.StoreID, Date: r.Date,
			Difference: webhook.Difference{
				ID: d.ID, Class: string(d.Class), OutNo: d.OutNo, OrdNo: d.OrdNo, Refund: d.Refund,
				GatewayAmount: d.GatewayAmount, ServiceAmount: d.ServiceAmount,
				GatewayState: d.GatewayState, ServiceState: d.ServiceState, Detail: d.Detail,
			},
		}, s.now())
		if err != nil {
			return err
		}
		e.ID = eventID(d.ID)
		if err := s.events.Emit(ctx, e); err != nil {
			return fmt.Errorf("reconciliation %s: alert %s: %w", r.ID, d.ID, err)
		}
		if err := s.markRaised(ctx, r.MerchantID, r.StoreID, r.Date, d.ID, e.ID); err != nil {
			return err
		}
		s.log.Warn("Reconciliation difference", "merchant_id", r.MerchantID, "store_id", r.StoreID, "date", r.Date,
			"difference_id", d.ID, "class", string(d.Class), "out_no", d.OutNo, "event_id", e.ID)
	}
	return nil
}

// Get returns one of a merchant's runs with its differences. Another
// merchant's run is ErrNotFound, exactly like a missing one.
func (s *Service) Get(ctx context.Context, merchantID, runID string) (*Run, error) {
	return s.get(ctx, merchantID, runID, true)
}

// get reads one of a merchant's runs, with its differences when withDiffs
// is set.
func (s *Service) get(ctx context.Context, merchantID, runID string, withDiffs bool) (*Run, error) {
	sid, date, err := s.where(ctx, merchantID, runID)
	if err != nil {
		return nil, err
	}
	r, diffs, err := s.readRun(ctx, s.rdb, merchantID, sid, date, withDiffs)
	if err != nil {
		return nil, err
	}
	if r == nil || r.ID != runID || r.MerchantID != merchantID {
		return nil, ErrNotFound
	}
	r.Differences = sorted(diffs)
	return r, nil
}

// SetStatus moves a difference of one of a merchant's runs to acknowledged
// or resolved, with the merchant's note. open → acknowledged | resolved,
// acknowledged → resolved, auto_fixed → resolved; setting the status it has
// changes nothing. ErrNotFound, ErrInvalid (status, note), ErrTransition.
func (s *Service) SetStatus(ctx context.Context, merchantID, runID, diffID string, to Status, note string) (*Difference, error) {
	if to != StatusAcknowledged && to != StatusResolved {
		return nil, fmt.Errorf("%w: status must be acknowledged or resolved", ErrInvalid)
	}
	if len([]rune(note)) > MaxNoteLen || strings.ContainsAny(note, "\x00\r\n") {
		return nil, fmt.Errorf("%w: note must be at most %d characters on one line", ErrInvalid, MaxNoteLen)
	}
	if !validID("df_", diffID) {
		return nil, ErrNotFound
	}
	sid, date, err := s.where(ctx, merchantID, runID)
	if err != nil {
		return nil, err
	}
	var out Difference
	now := s.now().UTC()
	_, err = s.update(ctx, merchantID, sid, date, func(r *Run, diffs map[string]Difference) (*Run, error) {
		d, ok := diffs[diffID]
		if r == nil || !ok || r.ID != runID {
			return nil, ErrNotFound
		}
		out = d
		if d.Status == to {
			return nil, nil
		}
		if d.Status == StatusResolved {
			return nil, fmt.Errorf("%w: the difference is resolved", ErrTransition)
		}
		d.Status, d.UpdatedAt = to, now
		if note != "" {
			d.Note = note
		}
		diffs[diffID] = d
		out = d
		r.UpdatedAt = now
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// MaxNoteLen bounds a merchant's note on a difference, in characters.
const MaxNoteLen = 200

// ListQuery selects a page of a merchant's runs.
type ListQuery struct {
	StoreID string
	// Date keeps only runs of this day (YYYY-MM-DD).
	Date string
	// Open keeps only runs with (true) or without (false) open differences
	// when set.
	Open *bool
	// After is the cursor: the last id of the previous page.
	After string
	// Limit is the page size, 1..100 (default 20).
	Limit int
}

// listScanMax bounds the runs one filtered List call reads.
const listScanMax = 500

// List returns a merchant's runs, newest first (by when they first ran),
// without their differences, and the cursor of the next page ("" at the
// end). ErrBadCursor when After is not one of the list's runs.
func (s *Service) List(ctx context.Context, merchantID string, q ListQuery) ([]*Run, string, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	q.Limit = min(q.Limit, 100)
	if !validKeyPart(merchantID) {
		return nil, "", nil
	}
	if q.After != "" && !validID("rc_", q.After) {
		return nil, "", ErrBadCursor
	}
	var (
		out     []*Run
		cursor  = q.After
		scanned int
	)
	for {
		want := q.Limit - len(out) + 1
		ids, err := checkout.PageNewestFirst(ctx, s.rdb, s.keyIndex(merchantID), cursor, want)
		switch {
		case errors.Is(err, checkout.ErrBadCursor):
			return nil, "", ErrBadCursor
		case err != nil:
			return nil, "", fmt.Errorf("list reconciliations of %s: %w", merchantID, err)
		}
		more := len(ids) == want
		if more {
			ids = ids[:want-1]
		}
		for _, id := range ids {
			r, err := s.get(ctx, merchantID, id, false)
			if errors.Is(err, ErrNotFound) {
				continue // outlived its retention
			}
			if err != nil {
				return nil, "", err
			}
			if (q.StoreID != "" && r.StoreID != q.StoreID) || (q.Date != "" && r.Date != q.Date) ||
				(q.Open != nil && (r.Counts.Open > 0) != *q.Open) {
				continue
			}
			r.Differences = nil
			out = append(out, r)
		}
		scanned += len(ids)
		if len(ids) > 0 {
			cursor = ids[len(ids)-1]
		}
		switch {
		case !more:
			return out, "", nil
		case len(out) >= q.Limit || scanned >= listScanMax:
			return out, cursor, nil
		}
	}
}
