// Package payments holds the use cases, every operation that talks to the
// gateway, and is where money becomes certain. It starts payments
// (payorder), takes the gateway's
// async notifies, confirms every order with paystatus before anything is
// marked paid, reconciles attempts that stay pending without a notify,
// expires checkouts and cancels what the gateway lets us cancel, refunds
// (on the merchant's request, and automatically for double and late
// payments), and publishes every real transition to the waiting result pages.
//
// Inputs arrive at least once (notifies are retried and duplicated, replicas
// race each other, processes crash). Effects happen exactly once because
// every state move is one atomic repository call that tells the one caller
// who made it, and every side effect that follows (a merchant event, an
// automatic refund) is claimed through a Redis key with a lease: whoever
// observes that an effect is due claims it, does it and marks it done; a
// crashed claim is taken over once its lease runs out. Event ids are derived
// from the effect, so even a retried emit carries the same id.
//
// All durable work (attempts to watch, refunds to resolve) lives in Redis
// sorted sets of deadlines, claimed by pushing the deadline forward by a
// lease, so several replicas share it and a restart loses nothing.
package payments
