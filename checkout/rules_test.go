package checkout

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestReferenceRule pins the one rule of a reference, which the create API
// applies by calling CheckReference: at most 128 characters, not bytes.
func TestReferenceRule(t *testing.T) {
	for _, tt := range []struct {
		name, ref string
		msg       string // "" when accepted
	}{
		{"empty", "", ""},
		{"128 ASCII", strings.Repeat("r", 128), ""},
		{"128 Chinese characters (384 bytes)", strings.Repeat("单", 128), ""},
		{"129 Chinese characters", strings.Repeat("单", 129), "must be at most 128 characters"},
		{"129 ASCII", strings.Repeat("r", 129), "must be at most 128 characters"},
		{"control character", "a\nb", "must not contain control characters"},
		{"invalid UTF-8", "a\xffb", "must be valid UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckReference(tt.ref)
			d := draft("m")
			d.Reference = tt.ref
			_, newErr := NewCheckout(d, time.Now())
			if tt.msg == "" {
				if err != nil || newErr != nil {
					t.Fatalf("refused: %v / %v", err, newErr)
				}
				return
			}
			for _, err := range []error{err, newErr} {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != "reference" || fe.Message != tt.msg || !errors.Is(err, ErrInvalid) {
					t.Errorf("err = %#v, want reference: %s (ErrInvalid)", err, tt.msg)
				}
			}
		})
	}
}
