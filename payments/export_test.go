package payments

import "github.com/wallet-checkout/checkout/checkout"

// ScriptAnsweredHash is the SHA1 of the script that records a refund's
// first answer, for tests that make that one write fail.
var ScriptAnsweredHash = scriptAnswered.Hash()

// WatchKey is the watch-list shard that holds work member m, for tests
// that put work in it or look at it directly.
func WatchKey(s *Service, m string) string { return s.keyWatch(m) }

// WatchShards are every shard of the watch list.
func WatchShards(s *Service) []string {
	out := make([]string, 0, checkout.QueueShards)
	for n := range checkout.QueueShards {
		out = append(out, s.keyWatchShard(n))
	}
	return out
}
