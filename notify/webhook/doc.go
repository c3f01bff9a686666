// Package webhook tells merchants what happened to their checkouts: it
// stores each event in Redis, delivers it as a signed JSON POST to the
// merchant's webhook URL, retries failures with exponential backoff for at
// least three days, and keeps every delivery attempt for the events API.
//
// Emitting is one Redis round trip that stores the event and schedules its
// delivery together, so an emitted event survives any restart. Delivery is
// claimed through a sorted set with a lease, so several replicas share the
// work without sending the same attempt twice, and a crashed replica's claim
// is picked up again once its lease runs out.
//
// The signature scheme belongs to the merchants' client module
// (github.com/wallet-checkout/checkout/client/webhook), which merchants
// import without Redis or the service; this package signs with it and
// re-exports its Verify. The Checkout-Signature header carries a timestamp
// and one HMAC-SHA256 of "timestamp.body" per active webhook secret, so
// secrets can be rotated without losing a delivery.
//
// A merchant's keys (events, attempts, indexes) and the delivery queue its
// events wait in share its shard's hash slot {wh:N}, one of 16, so each
// script touches one slot (Redis Cluster) and the work spreads over the
// nodes; the sender claims from every shard. MigrateLegacy moves events of
// the earlier layout, which kept everything in {wh}.
//
// Each merchant's events are also kept in a log in the order they were
// stored (Position, LogAfter), which the events stream follows: a reader
// that resumes after an event gets exactly what was stored after it, even
// an event created earlier but stored later. The log lives in the
// merchant's shard too.
package webhook
