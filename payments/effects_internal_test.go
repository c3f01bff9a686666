package payments

import (
	"strings"
	"testing"
)

func TestEventIDShape(t *testing.T) {
	a, b := eventID("co_x", "paid"), eventID("co_x", "paid")
	if a != b || a == eventID("co_y", "paid") || a == eventID("co_x", "expired") {
		t.Fatalf("event ids not derived from their effect: %s %s", a, b)
	}
	if len(a) != 28 || !strings.HasPrefix(a, "evt_") {
		t.Fatalf("event id %q", a)
	}
}
