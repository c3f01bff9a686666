// Package notify tells waiting result pages that a checkout moved: the use
// cases Publish an Update on a Redis channel after every real transition,
// and each process's Hub holds one subscription and fans the updates out to
// its local waiters (the result page's event stream). A lost update costs a
// page a few seconds, never money: pages re-read the state from Redis.
// Merchant webhooks live in the subpackage notify/webhook.
package notify
