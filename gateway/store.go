package gateway

import (
	"fmt"
	"net/url"
	"strings"
)

// Store is one store's credentials at the gateway. One process serves many
// stores; each call names the store it is for.
type Store struct {
	// BaseURL is the protocol root, e.g. https://api.example.com/mct1 (no
	// trailing slash needed); endpoints are appended to it.
	BaseURL string
	// OpenID is the store's open_id.
	OpenID string
	// Key is the store's open_key.
	Key Key
	// ShopPass is the refund supervisor password in clear; it travels as sha1.
	ShopPass Secret
}

// NewStore checks and builds a Store. The key must be exactly 32 bytes and
// the base URL absolute http(s).
func NewStore(baseURL, openID, openKey, shopPass string) (*Store, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway store %s: base URL %q is not an absolute http(s) URL", openID, baseURL)
	}
	if openID == "" {
		return nil, fmt.Errorf("gateway store: open_id is empty")
	}
	key, err := ParseKey(openKey)
	if err != nil {
		return nil, fmt.Errorf("gateway store %s: open_key: %w", openID, err)
	}
	return &Store{BaseURL: strings.TrimRight(baseURL, "/"), OpenID: openID, Key: key, ShopPass: Secret(shopPass)}, nil
}

// String names the store without its secrets.
func (s *Store) String() string { return "store " + s.OpenID + " at " + s.BaseURL }
