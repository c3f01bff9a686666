// Package reconciliation proves, once a day per store, that the service and
// the payment gateway agree: every order and refund order the gateway lists
// for a day (UTC+8) is known to the service with the same amount and final
// state, and every order and refund the service sent that day is known to
// the gateway.
//
// A run compares the gateway's `order` list of the day with the service's
// records (checkout attempts, refund records, and the index of numbers sent,
// checkout.Repo.SentOn), classifies each disagreement (see Class), fixes
// what is merely late on our side through the normal confirmation path
// (payments.Service.Confirm, ResolveRefund), and stores the run and its
// differences in Redis with stable ids, so that a re-run of the same store
// and day updates the same differences. Each difference left open raises one
// reconciliation.mismatch merchant event.
//
// Daily runs start after 00:10 UTC+8 for the previous day; replicas share
// them through a claim with a lease, so one replica does each store's day and
// another takes over if it dies.
package reconciliation
