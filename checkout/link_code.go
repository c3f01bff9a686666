package checkout

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// LinkShortCode is the 8-digit number printed under a payment link's store
// code and shown on the link's page, so that a payer can see that the page
// the code opened is the one the counter advertises (a sticker pasted over
// a shop's code leads to another link, with another number). It is derived
// from the id (the first 8 bytes of its SHA-256, modulo 10^8), so it needs
// no storage and never changes. It is a check for the eye, not an id:
// two links may share one in a hundred million.
func LinkShortCode(id string) string {
	sum := sha256.Sum256([]byte("payment-link-code\x00" + id))
	return fmt.Sprintf("%08d", binary.BigEndian.Uint64(sum[:8])%100_000_000)
}
