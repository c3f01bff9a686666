package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
)

// Source is what asked the gateway for the paystatus that confirmed a
// payment (a label of the confirmations metric). The jump back from the
// cashier is none: it never confirms anything (design rule 2); the result
// page it lands on asks with check_now.
type Source string

// The sources of a confirmation.
const (
	SourceNotify     Source = "notify"     // the gateway's async notify
	SourceCheckNow   Source = "check_now"  // the result page's "check now" (POST /c/:id/check, /status)
	SourceReconciler Source = "reconciler" // the reconciler's watch of a pending attempt
	SourceConfirm    Source = "confirm"    // Confirm: the daily reconciliation, the load harness
)

// Observer is told what the use cases did, for the service's metrics (app
// wires it to *metrics.Metrics). Each call is made once per fact, by the
// one process that did it; the methods must be quick and safe for
// concurrent use.
type Observer interface {
	// Confirmed: an attempt was marked paid, by the one call that did it.
	Confirmed(source, merchantID string)
	// LatePayment: a checkout was paid after it had expired or been
	// cancelled.
	LatePayment()
	// DuplicatePayment: a second attempt of a paid checkout was paid.
	DuplicatePayment()
	// AutoRefund: the service started a refund of its own, of kind
	// (late, duplicate).
	AutoRefund(kind string)
	// RefundFinished: a refund reached its end (succeeded, failed).
	RefundFinished(result, merchantID string)
}

// nopObserver is the Observer when none is configured.
type nopObserver struct{}

func (nopObserver) Confirmed(string, string)      {}
func (nopObserver) LatePayment()                  {}
func (nopObserver) DuplicatePayment()             {}
func (nopObserver) AutoRefund(string)             {}
func (nopObserver) RefundFinished(string, string) {}

// ReconcilerOldest answers the due time of the reconciler's oldest work
// item, claimed or not (a claim's due time is its lease's end), zero when
// there is none, over every shard of the watch list: the metrics'
// reconciler lag is how far it lies in the past.
func (s *Service) ReconcilerOldest(ctx context.Context) (time.Time, error) {
	pipe := s.rdb.Pipeline()
	firsts := make([]*redis.ZSliceCmd, checkout.QueueShards)
	for n := range checkout.QueueShards {
		firsts[n] = pipe.ZRangeWithScores(ctx, s.keyWatchShard(n), 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return time.Time{}, fmt.Errorf("reconciler watch list: %w", err)
	}
	var oldest time.Time
	for _, f := range firsts {
		if zs := f.Val(); len(zs) > 0 {
			if t := time.UnixMilli(int64(zs[0].Score)); oldest.IsZero() || t.Before(oldest) {
				oldest = t
			}
		}
	}
	return oldest, nil
}
