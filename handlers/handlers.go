// Package handlers is the service's HTTP surface on gin: the merchant API
// under /v1, the payer pages under /c/:id and the mini-program endpoint,
// the gateway's notify intake, ops endpoints, and the mounts of the demo's
// sandbox gateway and wallet emulator. Handlers parse, call the domain or
// the use cases (Payments), and answer through one error mapping
// (errors.go). Every route is in routes.go; each action has its own file.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
)

// maxBodyBytes bounds every API request body.
const maxBodyBytes = 64 << 10

// Payments is the use cases the handlers call: every operation that talks
// to the gateway goes through it. *payments.Service implements it; a test
// may stand in for one use case.
type Payments interface {
	// Start gives a payer the parameters to pay with (payorder).
	Start(ctx context.Context, req payments.StartRequest) (*payments.PayAction, error)
	// Notify takes one async notify of the gateway.
	Notify(ctx context.Context, storeToken string, q url.Values) error
	// Returned takes the gateway cashier's front-end jump back to the
	// checkout: it verifies the query and records a cancel; saidPaid is
	// the cashier's signed "paid" (the wallet's OK, not yet a payment).
	Returned(ctx context.Context, c *checkout.Checkout, q url.Values) (saidPaid bool, err error)
	// CheckNow asks the gateway (paystatus) about the checkout's pending
	// attempts at once, because a payer is waiting, and returns the
	// checkout as it is after (payments.ErrRateLimited moments after
	// another check).
	CheckNow(ctx context.Context, checkoutID string) (*checkout.Checkout, error)
	// CancelIntent records, before a cancel is stored, that its follow-up
	// is owed, so that a crash between the two does not lose it.
	CancelIntent(ctx context.Context, checkoutID string) error
	// Cancelled does what follows a merchant's cancel, once: the
	// checkout.cancelled event, barcode orders closed upstream, the others
	// watched.
	Cancelled(ctx context.Context, c *checkout.Checkout) error
	// Refund makes a refund (payrefund); Refunds lists a checkout's.
	Refund(ctx context.Context, merchantID, checkoutID string, req payments.RefundRequest) (*payments.Refund, error)
	Refunds(ctx context.Context, checkoutID string) ([]payments.Refund, error)
	// CheckoutFromLink makes a payer's checkout from a payment link:
	// a slot reserved, the checkout stored with the link's terms.
	CheckoutFromLink(ctx context.Context, l *checkout.PaymentLink, fen int64, tap checkout.LinkTap) (*checkout.Checkout, error)
	// CreateLink, UpdateLink and DeleteLink store a merchant's change of
	// a payment link together with the payment_link.* events it owes,
	// which are emitted then or, should that fail, by the reconciler.
	CreateLink(ctx context.Context, l *checkout.PaymentLink, idem *checkout.IdempotentResponse) error
	UpdateLink(ctx context.Context, merchantID, id string, u checkout.LinkUpdate) (*checkout.LinkChange, error)
	DeleteLink(ctx context.Context, merchantID, id string) (*checkout.PaymentLink, error)
}

// Deps is what the handlers need.
type Deps struct {
	Redis     redis.UniversalClient
	Directory *checkout.Directory
	Checkouts *checkout.Repo
	// Payments runs every use case that talks to the gateway.
	Payments Payments
	// PublicURL is where the service is reachable, e.g.
	// http://localhost:8080; hosted checkout URLs start with it.
	PublicURL string
	// Sandbox, when set, is mounted under /sandbox/ with the prefix stripped.
	Sandbox http.Handler
	Logger  *slog.Logger
	Clock   func() time.Time
	// MaxAmount is the service-wide largest checkout in fen, unless a
	// merchant sets its own (CHECKOUT_MAX_AMOUNT).
	MaxAmount int64
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// the client IP in logs; none by default.
	TrustedProxies []string
	// AllowPrivateWebhooks lets a checkout's webhook_url be plain http or
	// point at loopback and private addresses, as the merchants file's
	// webhook URLs may (CHECKOUT_ALLOW_PRIVATE_WEBHOOKS, development only).
	AllowPrivateWebhooks bool
	// What the payer pages need (page_*.go, pay_*.go, oauth_*.go,
	// miniprogram_*.go).
	PagesDeps
	// Events lists and resends merchant events (GET /v1/events, POST
	// /v1/events/:id/resend); *webhook.Service.
	Events EventLog
	// Reconciliations runs and lists the daily reconciliations with the
	// gateway (/v1/reconciliations); *reconciliation.Service.
	Reconciliations Reconciliations
	// RateLimits are the abuse limits (ratelimit.go); the zero value has
	// every limit off.
	RateLimits RateLimits
	// Observer, when set, is told of every request, notify, rate-limit
	// refusal and status stream (the metrics).
	Observer Observer
	// Console is what the merchant console needs; without its Sessions
	// the console is not served.
	Console ConsoleDeps
	// Draining, when set and true, makes /readyz answer 503 "draining":
	// the process is shutting down and still serving, so that a balancer
	// stops sending before the port closes.
	Draining func() bool
}

// handler holds the dependencies every action uses.
type handler struct {
	rdb       redis.UniversalClient
	dir       *checkout.Directory
	repo      *checkout.Repo
	pay       Payments
	publicURL string
	// https is whether publicURL is https (HSTS).
	https     bool
	log       *slog.Logger
	now       func() time.Time
	maxAmount int64
	// allowPrivateWebhooks: see Deps.AllowPrivateWebhooks.
	allowPrivateWebhooks bool
	// pages is set up by initPages.
	pages   *pages
	events  EventLog
	limiter *limiter
	// merchantStreams counts the open GET /v1/events/stream.
	merchantStreams *streamCounts
	// obs sees every request (Deps.Observer; a no-op without one).
	obs Observer
	// console is set by consoleRoutes when the console is served.
	console *ConsoleDeps
	// draining: see Deps.Draining; never nil.
	draining func() bool
	// sandbox is Deps.Sandbox: the console pays a sandbox order through
	// it (console_payment_actions.go).
	sandbox http.Handler
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
	case d.Payments == nil:
		return nil, errors.New("handlers: Payments is required")
	case d.Events == nil:
		return nil, errors.New("handlers: Events is required")
	case d.Reconciliations == nil:
		return nil, errors.New("handlers: Reconciliations is required")
	case d.Sessions == nil || d.CSRF == nil || d.OAuth == nil:
		return nil, errors.New("handlers: Sessions, CSRF and OAuth are required")
	case d.Hub == nil:
		return nil, errors.New("handlers: Hub is required")
	case d.WeChat == nil || d.Alipay == nil:
		return nil, errors.New("handlers: WeChat and Alipay are required")
	}
	if d.PublicURL == "" {
		return nil, errors.New("handlers: PublicURL is required")
	}
	if d.MaxAmount <= 0 {
		return nil, errors.New("handlers: MaxAmount must be positive")
	}
	if err := d.Streams.check(); err != nil {
		return nil, err
	}
	h := &handler{
		rdb:                  d.Redis,
		dir:                  d.Directory,
		repo:                 d.Checkouts,
		pay:                  d.Payments,
		publicURL:            strings.TrimRight(d.PublicURL, "/"),
		https:                strings.HasPrefix(strings.ToLower(d.PublicURL), "https://"),
		log:                  d.Logger,
		now:                  d.Clock,
		maxAmount:            d.MaxAmount,
		allowPrivateWebhooks: d.AllowPrivateWebhooks,
		events:               d.Events,
		sandbox:              d.Sandbox,
		merchantStreams:      newStreamCounts(merchantStreamLimits),
		draining:             d.Draining,
	}
	if h.draining == nil {
		h.draining = func() bool { return false }
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.obs = d.Observer; h.obs == nil {
		h.obs = nopObserver{}
	}
	h.limiter = newLimiter(d.Redis, d.RateLimits, h.log)
	h.limiter.obs = h.obs
	if h.now == nil {
		h.now = time.Now
	}
	r, err := h.routes(d)
	if err != nil {
		return nil, fmt.Errorf("handlers: %w", err)
	}
	return router{r}, nil
}
