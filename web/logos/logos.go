// Package logos fetches the merchants' logos (logo_url in the merchants
// file) once, at start, and serves them from the service's own origin, so
// that a payer's page makes no third-party request and a merchant's host
// never learns who opened a checkout.
//
// A logo is fetched with the client the caller passes, which should be the
// webhooks' guarded client (webhook.GuardedClient): no internal
// addresses, no redirects, a timeout. It must be a PNG, JPEG, GIF or WebP
// by its content (sniffed, not by the header the server sent) and at most
// MaxBytes. SVG is refused: it can carry script. A logo that cannot be had
// is logged as a warning and the page shows the merchant's initial, as it
// does without a logo.
package logos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxBytes is the largest logo accepted.
const MaxBytes = 256 << 10

// PathPrefix is where the logos are served: PathPrefix + merchant id.
const PathPrefix = "/logos/"

// fetchTimeout bounds each logo's fetch, so a slow host delays the start
// by at most this much.
const fetchTimeout = 5 * time.Second

// allowedTypes are the sniffed types a logo may have.
var allowedTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// ErrNotImage means the fetched body is not an image of an allowed type.
var ErrNotImage = errors.New("logo: not a PNG, JPEG, GIF or WebP image")

// ErrTooLarge means the logo is over MaxBytes.
var ErrTooLarge = fmt.Errorf("logo: larger than %d bytes", MaxBytes)

type logo struct {
	body  []byte
	ctype string
	sum   string // the first bytes of its SHA-256, for the URL's version
}

// Set is the logos fetched, by merchant id. The zero value and nil hold
// none. It is read-only once Fetch returns, so safe for concurrent use.
type Set struct {
	byMerchant map[string]logo
}

// Fetch gets every merchant's logo (urls: merchant id → logo URL) with
// client, side by side (at most fetchParallel at once, so N slow hosts
// delay the start by about one fetch's timeout, not N), and returns those
// it could get; each failure is logged as a warning and leaves that
// merchant with its initial.
func Fetch(ctx context.Context, client *http.Client, urls map[string]string, log *slog.Logger) *Set {
	s := &Set{byMerchant: make(map[string]logo, len(urls))}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		slot = make(chan struct{}, fetchParallel)
	)
	for id, u := range urls {
		if u == "" {
			continue
		}
		wg.Go(func() {
			slot <- struct{}{}
			defer func() { <-slot }()
			img, err := fetchOne(ctx, client, u)
			if err != nil {
				log.Warn("merchant logo not fetched; the page shows the initial", "merchant", id, "url", u, "err", err)
				return
			}
			mu.Lock()
			s.byMerchant[id] = img
			mu.Unlock()
		})
	}
	wg.Wait()
	return s
}

// fetchParallel is how many logos are fetched at once.
const fetchParallel = 16

func fetchOne(ctx context.Context, client *http.Client, u string) (logo, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return logo{}, fmt.Errorf("logo request: %w", err)
	}
	req.Header.Set("Accept", "image/png,image/jpeg,image/gif,image/webp")
	res, err := client.Do(req)
	if err != nil {
		return logo{}, fmt.Errorf("fetch logo: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return logo{}, fmt.Errorf("fetch logo: status %s", res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxBytes+1))
	if err != nil {
		return logo{}, fmt.Errorf("read logo: %w", err)
	}
	if len(body) > MaxBytes {
		return logo{}, ErrTooLarge
	}
	ctype := http.DetectContentType(body)
	if !allowedTypes[ctype] {
		return logo{}, fmt.Errorf("%w (content is %s)", ErrNotImage, ctype)
	}
	sum := sha256.Sum256(body)
	return logo{body: body, ctype: ctype, sum: hex.EncodeToString(sum[:6])}, nil
}

// Path is the URL path of a merchant's logo on our origin, versioned by
// its content so that it can be cached for long; "" when it has none.
func (s *Set) Path(merchantID string) string {
	if s == nil {
		return ""
	}
	img, ok := s.byMerchant[merchantID]
	if !ok {
		return ""
	}
	return PathPrefix + merchantID + "?v=" + img.sum
}

// ServeHTTP answers GET PathPrefix+<merchant id> with the logo, its
// sniffed type and nosniff; anything else is a 404.
func (s *Set) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, prefixed := strings.CutPrefix(r.URL.Path, PathPrefix)
	var img logo
	found := false
	if prefixed && s != nil {
		img, found = s.byMerchant[id]
	}
	if !found || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", img.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("Content-Security-Policy", "default-src 'none'")
	_, _ = w.Write(img.body)
}
