package webhook

import (
	"os"
	"strings"
	"testing"
	"time"
)

// The signature scheme is owned and tested by the merchants' client
// module (client/webhook); this package passes through to it. The golden
// header pins that the service still signs what merchants verify.
// The wire format is fixed: a known input gives a known header (the
// golden file was computed independently, with Python's hmac module).
func TestSignatureHeaderGolden(t *testing.T) {
	want, err := os.ReadFile("testdata/signature.golden")
	if err != nil {
		t.Fatal(err)
	}
	got := SignatureHeader(time.Unix(1_790_000_000, 0), []byte(`{"id":"evt_1"}`), []string{"whsec_test", "whsec_old"})
	if got != strings.TrimSpace(string(want)) {
		t.Errorf("header\n got %s\nwant %s", got, want)
	}
}
