// Package chaos is the service's chaos suite: it runs the real binary as a
// child process, with the sandbox gateway as a second process (its state
// survives the service's restarts), against a real redis-server the test
// starts itself with AOF, and a webhook receiver in the test. While mixed
// traffic runs (checkouts paid in every scenario the service can start
// without a phone, duplicate and late notifies, merchant cancels, partial
// and full refunds with Idempotency-Key replays, late payments under both
// late policies, double payments), it kill -9s the service at random
// instants (and right after it logs a refund or an automatic refund, where
// a crash hurts most; and with a payorder or payrefund in flight at a proxy
// in front of the gateway: half the automatic refunds logged have their
// payrefund held there and the service killed, so the refund is left in
// sending, never received, and must be sent again), restarts it on the
// same Redis, and restarts Redis once gracefully. A separate test kill -9s Redis itself, under
// --appendfsync always. After a quiet period it checks, for every checkout,
// the service's word against the sandbox's own journal of every payorder
// and payrefund it received:
//
//   - the refunded total is the sum of the refunds that succeeded at the
//     gateway, never more than was paid;
//   - every order paid at the gateway is paid in the service (or refunded
//     per the late or double-payment rules), and nothing else is;
//   - every automatic refund owed was made exactly once at the gateway;
//   - no out_no or refund_out_no was sent twice with different contents,
//     and each refund cause has one refund_out_no;
//   - every event owed reached the webhook receiver, with one id per cause,
//     and no event describes a state the checkout never had;
//   - Idempotency-Key replays answered what the first request answered.
//
// The report (go test -v) counts, per invariant, the cases it examined
// that could have broken it (double payments, late payments per policy,
// numbers sent twice, replays of a 202...), so that a pass is seen not to
// be vacuous; check_logic_test.go feeds the checks made-up defects.
//
// A failure prints the seed and, per invariant, the checkouts that broke it,
// and keeps the processes' logs (in $ARTIFACTS_DIR when set, else in a
// directory it names). Children die with the test binary (parent-death
// signal); on Ctrl-C or SIGTERM it kills them and removes its directories.
//
// Run it:
//
//	CHAOS=1 go test -race -count=1 ./chaos                       # the short seeded run CI does
//	CHAOS=1 CHAOS_SEED=42 go test -count=1 -run Chaos -v ./chaos  # replay a seed's decisions
//	CHAOS=1 CHAOS_DURATION=20m go test -count=1 -run 'Chaos$' -timeout 0 -v ./chaos
//
// Without CHAOS=1 the drives skip (a developer's go test ./... stays
// quick); .ci/run sets it.
//
// The replicas drive (replicas_test.go, topologies_test.go) runs the same
// traffic on three replicas behind a round-robin proxy in the test, holds
// the next payrefund a replica sends at the gateway proxy, then kill -9s
// that replica from the receiver's handler the moment one of its webhook
// deliveries arrives (unanswered), and checks
// these invariants plus the takeover of the dead replica's claimed work
// and every payer's event stream reaching its final state; on one
// redis-server, and on a Cluster and a Sentinel set (with a forced
// failover) of its own (docs/scale-out.md).
//
// CHAOS_DURATION is how long traffic runs (default 70s); the quiet period
// after it is bounded separately. The seed decides the traffic mix and the
// kill instants; the machine's scheduling still varies between runs. It
// needs a redis-server binary on PATH (it skips without one) and skips in
// the miniredis pass (REDISTEST=miniredis).
package chaos
