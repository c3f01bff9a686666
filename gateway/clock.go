package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ClockReading is what one call tells of the gateway's clock, for checking
// that ours agrees with it: the gateway refuses a request whose timestamp is
// more than 600 s away from its own clock (errcode 9).
type ClockReading struct {
	// Sent and Received are our clock when the request left and when the
	// answer came back.
	Sent, Received time.Time
	// Gateway is the gateway's time: the answer's timestamp member (every
	// answer has one, errors included), else its Date header.
	Gateway time.Time
	// Source says which: "timestamp" or "Date header".
	Source string
	// Code is the answer's errcode (CodeTimestamp when our clock is already
	// outside the window).
	Code Code
}

// Offset is how far the gateway's clock is ahead of ours (negative when it
// is behind), measured against the middle of the round trip. Both clocks
// are read in whole seconds, so it is exact to about a second.
func (r *ClockReading) Offset() time.Duration {
	mid := r.Sent.Add(r.Received.Sub(r.Sent) / 2)
	return r.Gateway.Sub(mid).Round(time.Second)
}

// Clock asks the gateway for its time with a paylist call (which changes
// nothing) and reads it from the answer, whatever its errcode: a wrong key
// or a clock already outside the window still gives a reading. Only a
// failure to reach the gateway, or an answer with neither a timestamp nor a
// Date header, is an error.
func (c *Client) Clock(ctx context.Context, st *Store) (*ClockReading, error) {
	if st == nil || st.Key.IsZero() {
		return nil, fmt.Errorf("gateway clock: %w", ErrKeyLength)
	}
	o := newObject(32)
	o.str("pmt_type", PayListTypes(2, 3, 4))
	sent := c.now()
	form := SealRequest(st.Key, st.OpenID, sent.Unix(), o.bytes())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.BaseURL+"/"+EndpointPayList, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("gateway clock: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gateway clock: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody))
	if err != nil {
		return nil, fmt.Errorf("gateway clock: reading answer: %w", err)
	}
	r := &ClockReading{Sent: sent, Received: c.now(), Code: -1}
	if env, err := ParseEnvelope(body); err == nil {
		r.Code = env.Code
		for _, f := range env.Fields {
			if f.Name != "timestamp" {
				continue
			}
			if ts, err := strconv.ParseInt(strings.TrimSpace(f.Value), 10, 64); err == nil && ts > 0 {
				r.Gateway, r.Source = time.Unix(ts, 0), "timestamp"
				return r, nil
			}
		}
	}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		r.Gateway, r.Source = d, "Date header"
		return r, nil
	}
	return nil, fmt.Errorf("gateway clock: %w: HTTP %d answer has neither a timestamp nor a Date header", ErrMalformed, resp.StatusCode)
}
