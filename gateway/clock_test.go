package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/internal/porttest"
)

// TestClock reads the gateway's time from every kind of answer: a success,
// an errcode (the clock check must work when the key is wrong or the clock
// already outside the window), and an answer without a timestamp (the Date
// header), and fails only when neither is there.
func TestClock(t *testing.T) {
	ahead := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name       string
		raw        func(w http.ResponseWriter)
		wantSource string
		wantCode   Code
		wantOffset time.Duration // to within 5 s
		wantErr    error
	}{
		{name: "success", wantSource: "timestamp", wantCode: CodeOK},
		{name: "errcode 9 an hour ahead", raw: func(w http.ResponseWriter) {
			fmt.Fprintf(w, `{"errcode":9,"msg":"timestamp error","timestamp":"%d"}`, ahead)
		}, wantSource: "timestamp", wantCode: CodeTimestamp, wantOffset: time.Hour},
		{name: "no timestamp", raw: func(w http.ResponseWriter) {
			w.Header().Set("Date", time.Now().Add(-20*time.Minute).UTC().Format(http.TimeFormat))
			fmt.Fprint(w, `{"errcode":5,"msg":"验证签名错误"}`)
		}, wantSource: "Date header", wantCode: CodeBadSign, wantOffset: -20 * time.Minute},
		{name: "not the gateway", raw: func(w http.ResponseWriter) {
			w.Header()["Date"] = nil
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>502</html>")
		}, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, st := newFakeGateway(t)
			f.answer = func(string, []byte) (Code, string, []byte) { return CodeOK, "成功", []byte(`[]`) }
			if tt.raw != nil {
				f.raw = func(w http.ResponseWriter, _ string, _ []byte) { tt.raw(w) }
			}
			r, err := NewClient().Clock(context.Background(), st)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != tt.wantSource || r.Code != tt.wantCode {
				t.Errorf("source %q code %d, want %q %d", r.Source, r.Code, tt.wantSource, tt.wantCode)
			}
			if d := r.Offset() - tt.wantOffset; d > 5*time.Second || d < -5*time.Second {
				t.Errorf("offset %s, want %s", r.Offset(), tt.wantOffset)
			}
		})
	}
}

// TestClockUnreachable fails with the transport's error, quickly.
func TestClockUnreachable(t *testing.T) {
	url := "http://" + porttest.Refusing(t) // nothing listens: the dial is refused
	st, err := NewStore(url+"/mct1", testOpenID, docKey, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient().Clock(context.Background(), st); err == nil {
		t.Fatal("no error from a refusing port")
	}
}

// TestClockOffset uses the middle of the round trip.
func TestClockOffset(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := &ClockReading{Sent: t0, Received: t0.Add(4 * time.Second), Gateway: t0.Add(602 * time.Second)}
	if got := r.Offset(); got != 600*time.Second {
		t.Errorf("offset %s, want 10m0s", got)
	}
}
