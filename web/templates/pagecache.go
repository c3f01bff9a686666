package templates

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"
)

// PageCache keeps rendered checkout pages so that a view of a page already
// rendered costs copying its markup instead of running the template (the
// render was a quarter of a page view's CPU time: docs/performance.md).
//
// An entry is keyed on every field of the CheckoutView except the three that
// differ per request: the CSP nonce, the CSRF token and Now (the countdown).
// The view is all the markup depends on, so two requests whose views have
// the same key get the same markup byte for byte, and a view that changes in
// anything shown (status, action, language, wallet, amount, names, URLs, …)
// is another key: a status change is visible at once, with nothing to
// invalidate. A test changes each field of the view in turn and checks that
// the key changes, so a field added later cannot be forgotten.
//
// The per-request values are never stored. A page is rendered once with
// sentinels in their place (a random prefix drawn when the cache is made,
// so that no merchant- or payer-supplied text can contain one) and kept as
// the literal segments between them; each request writes the segments with
// its own values spliced in.
//
// The cache is bounded by the bytes it holds (keys and markup), least
// recently used first out. It is safe for concurrent use.
type PageCache struct {
	maxBytes int
	prefix   string // the sentinels' random prefix; a slot letter follows

	mu      sync.Mutex
	size    int
	order   *list.List // of *pageEntry, most recently used first
	entries map[string]*list.Element
}

// The slots of a cached page: what each request fills in.
const (
	slotNonce   = 'N' // the CSP nonce (stylesheet and script tags)
	slotCSRF    = 'C' // the CSRF token (data-csrf)
	slotSeconds = 'S' // the seconds left to pay (data-expires-in)
	slotClock   = 'K' // the countdown's clock text
	slotTone    = 'T' // the countdown's tone (data-tone): far, urgent or ""
)

// entryOverhead approximates what an entry costs beyond its key and
// markup (list element, map slot, slices), for the size bound.
const entryOverhead = 256

type pageEntry struct {
	key   string
	parts []string // literal markup; len(parts) == len(slots)+1
	slots []byte   // the slot between parts[i] and parts[i+1]
	size  int
}

// NewPageCache returns a cache holding at most maxBytes of pages. A page
// larger than an eighth of that is rendered every time, never cached.
func NewPageCache(maxBytes int) *PageCache {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return &PageCache{
		maxBytes: maxBytes,
		prefix:   "pc" + hex.EncodeToString(b[:]),
		order:    list.New(),
		entries:  make(map[string]*list.Element),
	}
}

// keyBuffers hold the keys being built, so that a hit allocates none.
var keyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// WriteCheckoutPage writes CheckoutPage(v) to w, from the cache when a page
// with the same key was rendered before. The output is the same as
// CheckoutPage(v).Render with v.Nonce as the context's nonce.
func (pc *PageCache) WriteCheckoutPage(ctx context.Context, w io.Writer, v CheckoutView) error {
	kp := keyBuffers.Get().(*[]byte)
	defer keyBuffers.Put(kp)
	*kp = checkoutKey((*kp)[:0], &v)

	pc.mu.Lock()
	el, ok := pc.entries[string(*kp)] // no allocation: the compiler sees the conversion
	var e *pageEntry
	if ok {
		pc.order.MoveToFront(el)
		e = el.Value.(*pageEntry)
	}
	pc.mu.Unlock()

	if e == nil {
		var err error
		if e, err = pc.render(ctx, string(*kp), v); err != nil {
			return err
		}
		pc.add(e)
	}
	return pc.write(w, e, &v)
}

// render renders v with the sentinels in the per-request places and cuts
// the markup at them.
func (pc *PageCache) render(ctx context.Context, key string, v CheckoutView) (*pageEntry, error) {
	v.Nonce = pc.prefix + string(slotNonce)
	v.CSRFToken = pc.prefix + string(slotCSRF)
	v.countdown = &countdownSlots{seconds: pc.prefix + string(slotSeconds), clock: pc.prefix + string(slotClock), tone: pc.prefix + string(slotTone)}
	var sb strings.Builder
	if err := CheckoutPage(v).Render(templ.WithNonce(ctx, v.Nonce), &sb); err != nil {
		return nil, fmt.Errorf("render the checkout page for the cache: %w", err)
	}
	html := sb.String()
	e := &pageEntry{key: key}
	for {
		i := strings.Index(html, pc.prefix)
		if i < 0 || i+len(pc.prefix) >= len(html) {
			break
		}
		slot := html[i+len(pc.prefix)]
		switch slot {
		case slotNonce, slotCSRF, slotSeconds, slotClock, slotTone:
		default:
			// Only our sentinels carry the random prefix.
			return nil, fmt.Errorf("render the checkout page for the cache: unknown slot %q", slot)
		}
		e.parts = append(e.parts, html[:i])
		e.slots = append(e.slots, slot)
		html = html[i+len(pc.prefix)+1:]
	}
	e.parts = append(e.parts, html)
	e.size = len(key) + sb.Len() + entryOverhead
	return e, nil
}

// add stores e, evicting the least recently used pages past the bound.
func (pc *PageCache) add(e *pageEntry) {
	if e.size > pc.maxBytes/8 {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if el, ok := pc.entries[e.key]; ok {
		// Another request rendered it meanwhile: keep one.
		pc.order.MoveToFront(el)
		return
	}
	pc.entries[e.key] = pc.order.PushFront(e)
	pc.size += e.size
	for pc.size > pc.maxBytes {
		last := pc.order.Back()
		old := last.Value.(*pageEntry)
		pc.order.Remove(last)
		delete(pc.entries, old.key)
		pc.size -= old.size
	}
}

// write writes e's segments with v's per-request values between them,
// escaped as the template would escape them.
func (pc *PageCache) write(w io.Writer, e *pageEntry, v *CheckoutView) error {
	var secs [20]byte
	nonce := templ.EscapeString(v.Nonce)
	csrf := templ.EscapeString(v.CSRFToken)
	left := v.expiresIn()
	for i, part := range e.parts {
		if _, err := io.WriteString(w, part); err != nil {
			return fmt.Errorf("write the checkout page: %w", err)
		}
		if i == len(e.slots) {
			break
		}
		var err error
		switch e.slots[i] {
		case slotNonce:
			_, err = io.WriteString(w, nonce)
		case slotCSRF:
			_, err = io.WriteString(w, csrf)
		case slotSeconds:
			_, err = w.Write(strconv.AppendInt(secs[:0], left, 10))
		case slotClock:
			_, err = w.Write(appendClock(secs[:0], left))
		case slotTone:
			_, err = io.WriteString(w, countdownTone(left))
		}
		if err != nil {
			return fmt.Errorf("write the checkout page: %w", err)
		}
	}
	return nil
}

// Len reports the number of pages cached and the bytes they count for.
func (pc *PageCache) Len() (pages, bytes int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return len(pc.entries), pc.size
}

// checkoutKey appends the cache key of v to b: every field of the view but
// Nonce, CSRFToken and Now, each length-prefixed so that no two views share
// a key. TestPageCacheKeyCoversTheView fails when a field is added to
// CheckoutView or Page and not here.
func checkoutKey(b []byte, v *CheckoutView) []byte {
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(v.Lang)
	str(v.ID)
	str(v.MerchantName)
	str(v.Description)
	str(v.Amount)
	b = binary.AppendVarint(b, v.AmountFen)
	b = binary.AppendVarint(b, v.ExpiresAt.Unix())
	b = binary.AppendVarint(b, int64(v.ExpiresAt.Nanosecond()))
	str(v.Status)
	str(v.Wallet)
	str(v.Action)
	str(v.PayURL)
	str(v.StatusURL)
	str(v.EventsURL)
	str(v.ResultURL)
	str(v.CheckURL)
	str(v.CancelURL)
	b = binary.AppendUvarint(b, uint64(len(v.Wallets)))
	for _, w := range v.Wallets {
		str(w)
	}
	str(v.PageURL)
	str(v.MiniProgramPath)
	str(v.Notice)
	str(v.Reference)
	str(v.LogoURL)
	str(v.SuccessURL)
	b = binary.AppendVarint(b, v.PaidAt.UnixNano())
	str(v.Method)
	str(v.RegisteredName)
	str(v.ShortCode)
	if v.Late {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return b
}

// appendClock appends clock(secs) to b without fmt.
func appendClock(b []byte, secs int64) []byte {
	if secs < 0 {
		secs = 0
	}
	h, m, s := secs/3600, secs/60%60, secs%60
	if h > 0 {
		b = strconv.AppendInt(b, h, 10)
		b = append(b, ':', byte('0'+m/10), byte('0'+m%10))
	} else {
		b = strconv.AppendInt(b, m, 10)
	}
	return append(b, ':', byte('0'+s/10), byte('0'+s%10))
}
