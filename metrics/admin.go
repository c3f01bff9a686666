package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"
)

// readyTimeout bounds the readiness check.
const readyTimeout = time.Second

// AdminHandler is what the admin listener serves (CHECKOUT_ADMIN_ADDR),
// never the public port: /metrics, /debug/pprof/, /healthz (the process
// is up) and /readyz (ready answers nil: Redis answers and the process is
// not draining). Anything else is 404.
func (m *Metrics) AdminHandler(ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := ready(ctx); err != nil {
			// The reason is ours (draining, Redis unreachable), never a
			// secret: the Redis error itself is not echoed.
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": Reason(err)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// NotReady is a readiness failure with a reason safe to show.
type NotReady struct {
	Why string
	Err error
}

func (e *NotReady) Error() string {
	if e.Err != nil {
		return e.Why + ": " + e.Err.Error()
	}
	return e.Why
}

// Unwrap returns the cause.
func (e *NotReady) Unwrap() error { return e.Err }

// Reason is err's reason to show: a NotReady's Why, else "not ready".
func Reason(err error) string {
	if nr, ok := err.(*NotReady); ok {
		return nr.Why
	}
	return "not ready"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
