package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// NotifyPath is where the gateway's async notifies arrive: NotifyPath and
// the store's open_id.
const NotifyPath = "/notify/"

// NotifyURL is the notify_url to give payorder for a store: the store is in
// the path, because the gateway signs every query field it sends and our
// own query parameters would break the signature.
func NotifyURL(publicURL string, st *checkout.Store) string {
	return strings.TrimRight(publicURL, "/") + NotifyPath + url.PathEscape(st.Gateway.OpenID)
}

// Notify handles one async notify for the store whose open_id is storeToken:
// it verifies the signature with the store's open_key, finds our attempt,
// and confirms it with paystatus (the notify's own status is never trusted:
// a notify saying cancelled for an order paystatus calls paid makes it paid).
// It returns nil only once the gateway's final word is stored and its
// effects are done: then, and only then, answer notify_success.
// ErrUnknownStore and ErrUnknownOrder mean 404, ErrBadSignature 400 (and the
// gateway.ErrCallback of a malformed query); anything else is a temporary
// failure, to be answered 5xx so the gateway retries.
func (s *Service) Notify(ctx context.Context, storeToken string, q url.Values) error {
	m, st, ok := s.dir.StoreByOpenID(storeToken)
	if !ok || st.Gateway == nil {
		return fmt.Errorf("notify for store %.40q: %w", storeToken, ErrUnknownStore)
	}
	cb, err := gateway.VerifyCallback(st.Gateway.Key, q)
	if err != nil {
		if errors.Is(err, gateway.ErrCallback) {
			return fmt.Errorf("notify for store %s: %w: %w", st.ID, ErrBadSignature, err)
		}
		return fmt.Errorf("notify for store %s: %w", st.ID, ErrBadSignature)
	}
	c, a, err := s.repo.AttemptByOutNo(ctx, cb.OutNo)
	if errors.Is(err, checkout.ErrNotFound) {
		s.log.Warn("Notify for an order we do not know", "store_id", st.ID, "out_no", cb.OutNo, "ord_no", cb.OrdNo)
		return fmt.Errorf("notify %.64q: %w", cb.OutNo, ErrUnknownOrder)
	}
	if err != nil {
		return fmt.Errorf("notify %s: %w", cb.OutNo, err)
	}
	if c.MerchantID != m.ID || c.StoreID != st.ID || (a.OrdNo != "" && a.OrdNo != cb.OrdNo) {
		s.log.Error("Notify names an order of ours for another store or gateway order",
			"store_id", st.ID, "out_no", cb.OutNo, "ord_no", cb.OrdNo, "checkout_store_id", c.StoreID)
		return fmt.Errorf("notify %s: %w", cb.OutNo, ErrUnknownOrder)
	}
	res, err := s.confirm(ctx, st, c, a, notifyWait)
	switch {
	case errors.Is(err, ErrAmountMismatch):
		// Alert raised and the attempt taken out of play: retrying cannot
		// change anything.
		return nil
	case errors.Is(err, ErrNotOurs):
		return fmt.Errorf("notify %s: %w", cb.OutNo, ErrUnknownOrder)
	case err != nil:
		return fmt.Errorf("notify %s: %w", cb.OutNo, err)
	case res.NotFound:
		return fmt.Errorf("notify %s: paystatus does not know it: %w", cb.OutNo, ErrUnknownOrder)
	case !res.Settled:
		return fmt.Errorf("notify %s: %w (status %s)", cb.OutNo, ErrNotSettled, res.Gateway)
	}
	return nil
}
