// Package metrics owns the service's Prometheus registry and every metric
// name (docs/operations.md lists them). The domain packages do not import
// it, nor Prometheus: each declares the small observer it needs (a func or
// an interface: checkout.WithObserver, gateway.WithObserver,
// payments.Observer, webhook.WithObserver, handlers.Observer), and app
// wires them to a *Metrics. Every label has a bounded set of values: route
// templates, endpoint names, statuses, results; the merchant id only when
// the operator asks for it (Options.MerchantLabel).
package metrics

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace starts every metric name of the service.
const namespace = "checkout"

// ProbeTimeout bounds each Redis read a scrape makes (queue depth, oldest
// due delivery, reconciler lag): a slow Redis leaves those series out of
// the scrape rather than holding it.
const ProbeTimeout = 2 * time.Second

// Options configures New.
type Options struct {
	// Version, Commit are the build's (checkout -version); the Go release
	// is the running one.
	Version, Commit string
	// MerchantLabel adds a merchant_id label to the per-merchant counters
	// (transitions, confirmations, refunds, webhook deliveries). Off by
	// default: with many merchants it multiplies the series.
	MerchantLabel bool
}

// Metrics is the registry and the service's metrics. Its methods are safe
// for concurrent use; a nil *Metrics is not.
type Metrics struct {
	reg           *prometheus.Registry
	merchantLabel bool

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	// routes caches the children of the HTTP metrics by route, method and
	// status, so a request costs a map read, not a label hash. The map is
	// copied on write (new keys stop coming once every route has been
	// seen), so reads take no lock.
	routesMu sync.Mutex
	routes   atomic.Pointer[map[routeKey]routeSeries]

	gatewayCalls    *prometheus.CounterVec
	gatewayDuration *prometheus.HistogramVec
	notifies        *prometheus.CounterVec
	confirmations   *prometheus.CounterVec
	transitions     *prometheus.CounterVec
	latePayments    prometheus.Counter
	dupPayments     prometheus.Counter
	autoRefunds     *prometheus.CounterVec
	refunds         *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
	streamsOpen     prometheus.Gauge
}

type routeKey struct {
	route, method string
	status        int
}

type routeSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// Metric names, for the tests and the documentation.
const (
	NameHTTPRequests        = namespace + "_http_requests_total"
	NameHTTPDuration        = namespace + "_http_request_duration_seconds"
	NameGatewayCalls        = namespace + "_gateway_calls_total"
	NameGatewayDuration     = namespace + "_gateway_call_duration_seconds"
	NameNotifies            = namespace + "_notifies_received_total"
	NameConfirmations       = namespace + "_confirmations_total"
	NameTransitions         = namespace + "_checkout_transitions_total"
	NameLatePayments        = namespace + "_late_payments_total"
	NameDuplicatePayments   = namespace + "_duplicate_payments_total"
	NameAutoRefunds         = namespace + "_automatic_refunds_total"
	NameRefunds             = namespace + "_refunds_total"
	NameWebhookDeliveries   = namespace + "_webhook_deliveries_total"
	NameWebhookQueueDepth   = namespace + "_webhook_queue_depth"
	NameWebhookOldestDueAge = namespace + "_webhook_oldest_due_age_seconds"
	NameReconcilerLag       = namespace + "_reconciler_lag_seconds"
	NameStreamsOpen         = namespace + "_sse_streams_open"
	NameRateLimited         = namespace + "_rate_limited_requests_total"
	NameBuildInfo           = namespace + "_build_info"
	NameRedisPool           = namespace + "_redis_pool" // prefix of the pool's series
)

// latencyBuckets suit both our answers (milliseconds) and the gateway's
// (up to its 15 s timeout).
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}

// New builds the registry with the Go runtime and process collectors, the
// build info, and the service's metrics.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), merchantLabel: o.MerchantLabel}
	m.routes.Store(&map[routeKey]routeSeries{})
	merchant := func(labels ...string) []string {
		if o.MerchantLabel {
			return append(labels, "merchant_id")
		}
		return labels
	}
	f := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	h := func(name, help string, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.httpRequests = f(NameHTTPRequests, "HTTP requests answered, by route template, method and status.", "route", "method", "status")
	m.httpDuration = h(NameHTTPDuration, "Time to answer an HTTP request (a status stream: its whole life), by route template and method.", "route", "method")
	m.gatewayCalls = f(NameGatewayCalls, "Calls to the payment gateway, by endpoint and result (ok, errcode_<n>, unknown_outcome, transport, malformed, invalid, cancelled).", "endpoint", "result")
	m.gatewayDuration = h(NameGatewayDuration, "Time of a gateway call, retries included, by endpoint.", "endpoint")
	m.notifies = f(NameNotifies, "Gateway notifies received, by result (success, rejected: a 4xx answer, failed: a 5xx answer the gateway retries).", "result")
	m.confirmations = f(NameConfirmations, "Attempts confirmed paid, by what asked the gateway (notify, jump, reconciler, check_now).", merchant("source")...)
	m.transitions = f(NameTransitions, "Checkout state moves, by from and to status.", merchant("from", "to")...)
	m.latePayments = prometheus.NewCounter(prometheus.CounterOpts{Name: NameLatePayments, Help: "Payments confirmed after their checkout expired or was cancelled."})
	m.dupPayments = prometheus.NewCounter(prometheus.CounterOpts{Name: NameDuplicatePayments, Help: "Second payments of a checkout already paid."})
	m.reg.MustRegister(m.latePayments, m.dupPayments)
	m.autoRefunds = f(NameAutoRefunds, "Refunds the service started itself, by kind (late, duplicate).", "kind")
	m.refunds = f(NameRefunds, "Refunds finished, by result (succeeded, failed).", merchant("result")...)
	m.deliveries = f(NameWebhookDeliveries, "Webhook delivery attempts, by result (ok, retry, giveup, notsent).", merchant("result")...)
	m.rateLimited = f(NameRateLimited, "Requests refused with 429 by a rate limit, by limit (api, auth_failures, payer).", "limit")
	m.streamsOpen = prometheus.NewGauge(prometheus.GaugeOpts{Name: NameStreamsOpen, Help: "Payers' status streams (server-sent events) open in this process."})
	m.reg.MustRegister(m.streamsOpen)

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: NameBuildInfo, Help: "Always 1: the build's version, commit and Go release.",
		ConstLabels: prometheus.Labels{"version": o.Version, "commit": o.Commit, "goversion": runtime.Version()},
	})
	bi.Set(1)
	m.reg.MustRegister(bi)
	return m
}

// Registry is the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request counts one HTTP answer. route is the router's template ("" for
// no route: counted as "unmatched", and any method outside the standard
// ones as "OTHER", so a scanner cannot grow the series).
func (m *Metrics) Request(route, method string, status int, elapsed time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	method = boundMethod(method)
	k := routeKey{route, method, status}
	s, ok := (*m.routes.Load())[k]
	if !ok {
		s = m.addRoute(k)
	}
	s.count.Inc()
	s.duration.Observe(elapsed.Seconds())
}

// addRoute makes k's series and puts them in a copy of the cache.
func (m *Metrics) addRoute(k routeKey) routeSeries {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	old := *m.routes.Load()
	if s, ok := old[k]; ok {
		return s
	}
	s := routeSeries{
		count:    m.httpRequests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status)),
		duration: m.httpDuration.WithLabelValues(k.route, k.method),
	}
	next := make(map[routeKey]routeSeries, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = s
	m.routes.Store(&next)
	return s
}

// boundMethod keeps the standard methods and folds any other into OTHER.
func boundMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// GatewayCall counts one call to the gateway with its result class.
func (m *Metrics) GatewayCall(endpoint, result string, elapsed time.Duration) {
	m.gatewayCalls.WithLabelValues(endpoint, result).Inc()
	m.gatewayDuration.WithLabelValues(endpoint).Observe(elapsed.Seconds())
}

// NotifyReceived counts a notify by result (success, rejected, failed).
func (m *Metrics) NotifyReceived(result string) { m.notifies.WithLabelValues(result).Inc() }

// Confirmed counts an attempt confirmed paid, by source.
func (m *Metrics) Confirmed(source, merchantID string) {
	m.confirmations.WithLabelValues(m.labels(merchantID, source)...).Inc()
}

// Transition counts a checkout's move from one status to another.
func (m *Metrics) Transition(from, to, merchantID string) {
	m.transitions.WithLabelValues(m.labels(merchantID, from, to)...).Inc()
}

// LatePayment counts a payment confirmed after its checkout ended.
func (m *Metrics) LatePayment() { m.latePayments.Inc() }

// DuplicatePayment counts a second payment of a paid checkout.
func (m *Metrics) DuplicatePayment() { m.dupPayments.Inc() }

// AutoRefund counts a refund the service started itself, by kind.
func (m *Metrics) AutoRefund(kind string) { m.autoRefunds.WithLabelValues(kind).Inc() }

// RefundFinished counts a refund that reached its end, by result.
func (m *Metrics) RefundFinished(result, merchantID string) {
	m.refunds.WithLabelValues(m.labels(merchantID, result)...).Inc()
}

// WebhookDelivery counts one delivery attempt by result.
func (m *Metrics) WebhookDelivery(result, merchantID string) {
	m.deliveries.WithLabelValues(m.labels(merchantID, result)...).Inc()
}

// RateLimited counts a request refused by the limit named.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }

// StreamOpened and StreamClosed follow the open status streams.
func (m *Metrics) StreamOpened() { m.streamsOpen.Inc() }

// StreamClosed: see StreamOpened.
func (m *Metrics) StreamClosed() { m.streamsOpen.Dec() }

// labels appends the merchant id to values when the label is on.
func (m *Metrics) labels(merchantID string, values ...string) []string {
	if m.merchantLabel {
		return append(values, merchantID)
	}
	return values
}

// Probes are the Redis reads a scrape makes; each answers at the scrape's
// time and is bounded by ProbeTimeout. A nil probe is left out.
type Probes struct {
	// WebhookQueue answers the number of webhook deliveries waiting (due
	// or not) and the due time of the oldest (zero when none).
	WebhookQueue func(ctx context.Context) (depth int64, oldestDue time.Time, err error)
	// ReconcilerOldest answers the due time of the reconciler's oldest
	// work item (zero when none).
	ReconcilerOldest func(ctx context.Context) (time.Time, error)
	// Clock is the time the ages are measured against (default time.Now).
	Clock func() time.Time
}

// AddProbes registers the scrape-time Redis reads.
func (m *Metrics) AddProbes(p Probes) {
	if p.Clock == nil {
		p.Clock = time.Now
	}
	m.reg.MustRegister(&probeCollector{p: p,
		depth:  prometheus.NewDesc(NameWebhookQueueDepth, "Webhook deliveries waiting in Redis (due now or later, claimed or not).", nil, nil),
		oldest: prometheus.NewDesc(NameWebhookOldestDueAge, "How long the oldest due webhook delivery has been due (0 when none is due).", nil, nil),
		lag:    prometheus.NewDesc(NameReconcilerLag, "How long the reconciler's oldest work item (a pending attempt's check, an expiry, a refund) has been past its due time (0 when none is).", nil, nil),
	})
}

// probeCollector reads Redis at scrape time.
type probeCollector struct {
	p                  Probes
	depth, oldest, lag *prometheus.Desc
}

func (c *probeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.lag
}

func (c *probeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ProbeTimeout)
	defer cancel()
	now := c.p.Clock()
	if c.p.WebhookQueue != nil {
		if n, due, err := c.p.WebhookQueue(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n))
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, pastSeconds(now, due))
		}
	}
	if c.p.ReconcilerOldest != nil {
		if due, err := c.p.ReconcilerOldest(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, pastSeconds(now, due))
		}
	}
}

// pastSeconds is how far t lies before now, in seconds; 0 for a zero or
// future t.
func pastSeconds(now, t time.Time) float64 {
	if t.IsZero() || !t.Before(now) {
		return 0
	}
	return now.Sub(t).Seconds()
}
