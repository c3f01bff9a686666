package wallet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxResponseBytes caps every provider answer the package reads. Identity
// answers are a few hundred bytes; anything near the cap is not an answer.
const MaxResponseBytes = 64 << 10

// ErrResponseTooLarge is returned when a provider answers with more than
// MaxResponseBytes.
var ErrResponseTooLarge = errors.New("wallet: response larger than 64 KiB")

// ErrMalformedResponse is returned when a provider's answer cannot be decoded
// or lacks the fields that make it an answer.
var ErrMalformedResponse = errors.New("wallet: malformed response")

// ErrBadSignature is returned when an Alipay answer's RSA2 signature does not
// verify with the configured Alipay public key.
var ErrBadSignature = errors.New("wallet: response signature does not verify")

// DefaultTimeout bounds a call when the client is not injected.
const DefaultTimeout = 10 * time.Second

// defaultHTTP is used when no client is injected: unlike
// http.DefaultClient it cannot hang forever on a stalled provider.
var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// httpClient returns c, or a client with DefaultTimeout when c is nil.
// Timeouts belong to the injected client; calls also honour their context.
func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return defaultHTTP
}

// endpoint joins a configured base URL and a path, keeping any path the base
// already has (the emulator is mounted under a prefix).
func endpoint(base, path string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("base url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("base url %q: want an absolute http(s) url", u.Redacted())
	}
	u.RawQuery, u.Fragment = "", ""
	return u.JoinPath(path), nil
}

// do sends req and returns at most MaxResponseBytes of a 2xx answer. Errors
// never carry the request's query string or body, which hold app secrets
// and single-use codes.
func do(c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := httpClient(c).Do(req)
	if err != nil {
		return nil, redactURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", redactURLError(err))
	}
	if len(body) > MaxResponseBytes {
		return nil, ErrResponseTooLarge
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("http status %d", resp.StatusCode)
	}
	return body, nil
}

// redactURLError strips the query from the URL that net/http puts into its
// errors, because ours carry the app secret.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		clean := *ue
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.Fragment, u.User = "", "", nil
			clean.URL = u.String()
		} else {
			clean.URL = "[unparsable url]"
		}
		return &clean
	}
	return err
}

// newGet builds a GET request for u with q as its query.
func newGet(ctx context.Context, u *url.URL, q url.Values) (*http.Request, error) {
	u2 := *u
	u2.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u2.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", redactURLError(err))
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// newPostForm builds a form POST to u.
func newPostForm(ctx context.Context, u *url.URL, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", redactURLError(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	req.Header.Set("Accept", "application/json")
	return req, nil
}
