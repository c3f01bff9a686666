package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthTimeout bounds the whole health check; container runtimes have
// their own, longer, timeout around it.
const healthTimeout = 3 * time.Second

// healthCheck GETs /healthz of the service listening on CHECKOUT_ADDR (or
// -addr) on this machine. It exists because the distroless image has no
// shell, curl or wget for a HEALTHCHECK to use.
func healthCheck(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	addr := getenv("CHECKOUT_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: CHECKOUT_ADDR %q is not host:port\n", addr)
		return exitFailed
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	u := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return exitFailed
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return exitFailed
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s\n", u, resp.Status)
		return exitFailed
	}
	return exitOK
}
