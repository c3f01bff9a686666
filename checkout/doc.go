// Package checkout is the checkout domain: merchants and their stores (the
// directory), checkouts and their payment attempts, the states they move
// through and the only moves allowed, and the Redis repository that makes
// every move atomic.
//
// A checkout's keys all share the hash slot of its id ({co_…}) so the same
// code runs on Redis Cluster. Every transition is one Lua script that reports
// whether it happened, so a caller emits exactly one event per real change.
package checkout
