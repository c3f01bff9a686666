// Package handlers is the service's HTTP surface on gin: the merchant API
// under /v1, ops endpoints, and the mount points of the pages and the
// sandbox gateway. Routes live in routes.go; each action has its own file.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// DefaultMaxAmount is the largest checkout in fen when neither the merchant
// nor the service sets one: 100 000 yuan.
const DefaultMaxAmount int64 = 10_000_000

// maxBodyBytes bounds every API request body.
const maxBodyBytes = 64 << 10

// OrderCanceller closes an unpaid order at the gateway (paycancel).
// *gateway.Client implements it.
type OrderCanceller interface {
	PayCancel(ctx context.Context, st *gateway.Store, ref gateway.OrderRef) (*gateway.CancelResult, error)
}

// Deps is what the handlers need.
type Deps struct {
	Redis     redis.UniversalClient
	Directory *checkout.Directory
	Checkouts *checkout.Repo
	// Gateway cancels pending barcode orders when a merchant cancels a
	// checkout. May be nil: those orders then stay watched like the others.
	Gateway OrderCanceller
	// PublicURL is where the service is reachable, e.g.
	// http://localhost:8080; hosted checkout URLs start with it.
	PublicURL string
	// Sandbox, when set, is mounted under /sandbox/ with the prefix stripped.
	Sandbox http.Handler
	Logger  *slog.Logger
	Clock   func() time.Time
	// MaxAmount is the service-wide largest checkout in fen (0: DefaultMaxAmount).
	MaxAmount int64
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// the client IP in logs; none by default.
	TrustedProxies []string
	// AllowPrivateWebhooks lets a checkout's webhook_url be plain http or
	// point at loopback and private addresses, as the merchants file's
	// webhook URLs may (CHECKOUT_ALLOW_PRIVATE_WEBHOOKS, development only).
	AllowPrivateWebhooks bool
	// Notifier takes the gateway's async notifies (GET /notify/:store);
	// *notify.Service. The route is mounted only when it is set.
	Notifier Notifier
	// Refunds makes and lists refunds (POST /v1/checkouts/:id/refunds);
	// *notify.Service. The route is mounted only when it is set.
	Refunds Refunder
	// Payer pages (page_*.go, pay_*.go, oauth_*.go, miniprogram_*.go); they
	// are mounted only when Sessions and PayOrderer are set.
	PagesDeps
	// Events lists and resends merchant events (GET /v1/events, POST
	// /v1/events/:id/resend); *webhook.Service. Mounted only when set.
	Events EventLog
	// Reconciliations runs and lists the daily reconciliations with the
	// gateway (/v1/reconciliations); *reconciliation.Service. Mounted only
	// when set.
	Reconciliations Reconciliations
}

// handler holds the dependencies every action uses.
type handler struct {
	rdb       redis.UniversalClient
	dir       *checkout.Directory
	repo      *checkout.Repo
	gw        OrderCanceller
	publicURL string
	log       *slog.Logger
	now       func() time.Time
	maxAmount int64
	// allowPrivateWebhooks: see Deps.AllowPrivateWebhooks.
	allowPrivateWebhooks bool
	notifier             Notifier
	refunder             Refunder
	// pages is set up by initPages.
	pages  *pages
	events EventLog
}

// New checks the dependencies and builds the router.
func New(d Deps) (http.Handler, error) {
	switch {
	case d.Redis == nil:
		return nil, errors.New("handlers: Redis is required")
	case d.Directory == nil:
		return nil, errors.New("handlers: Directory is required")
	case d.Checkouts == nil:
		return nil, errors.New("handlers: Checkouts is required")
	}
	if d.PublicURL == "" {
		return nil, errors.New("handlers: PublicURL is required")
	}
	if gc, ok := d.Gateway.(*gateway.Client); ok && gc == nil {
		d.Gateway = nil
	}
	h := &handler{
		rdb:                  d.Redis,
		dir:                  d.Directory,
		repo:                 d.Checkouts,
		gw:                   d.Gateway,
		publicURL:            strings.TrimRight(d.PublicURL, "/"),
		log:                  d.Logger,
		now:                  d.Clock,
		maxAmount:            d.MaxAmount,
		notifier:             d.Notifier,
		allowPrivateWebhooks: d.AllowPrivateWebhooks,
		refunder:             d.Refunds,
		events:               d.Events,
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxAmount <= 0 {
		h.maxAmount = DefaultMaxAmount
	}
	r, err := h.routes(d)
	if err != nil {
		return nil, fmt.Errorf("handlers: %w", err)
	}
	return r, nil
}
