package checkout

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestReferenceRule pins the one rule of a reference, which the create API
// applies by calling CheckReference: at most 128 characters, not bytes.
func TestReferenceRule(t *testing.T) {
	checkTextRule(t, "reference", CheckReference, func(d *Draft, v string) { d.Reference = v }, []textCase{
		{"empty", "", ""},
		{"128 ASCII", strings.Repeat("r", 128), ""},
		{"128 Chinese characters (384 bytes)", strings.Repeat("单", 128), ""},
		{"129 Chinese characters", strings.Repeat("单", 129), "must be at most 128 characters"},
		{"129 ASCII", strings.Repeat("r", 129), "must be at most 128 characters"},
		{"control character", "a\nb", "must not contain control characters"},
		{"invalid UTF-8", "a\xffb", "must be valid UTF-8"},
	})
}

// TestDescriptionRule pins the one rule of a description, which the create
// API applies by calling CheckDescription and the domain applies to every
// draft: at most MaxDescriptionLen characters, not bytes, and no control
// characters.
func TestDescriptionRule(t *testing.T) {
	tooLong := fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)
	checkTextRule(t, "description", CheckDescription, func(d *Draft, v string) { d.Description = v }, []textCase{
		{"empty", "", ""},
		{"limit in ASCII", strings.Repeat("d", MaxDescriptionLen), ""},
		{"limit in Chinese characters (3 bytes each)", strings.Repeat("拿", MaxDescriptionLen), ""},
		{"one Chinese character more", strings.Repeat("拿", MaxDescriptionLen+1), tooLong},
		{"one ASCII character more", strings.Repeat("d", MaxDescriptionLen+1), tooLong},
		{"newline", "a\nb", "must not contain control characters"},
		{"NUL", "a\x00b", "must not contain control characters"},
		{"C1 control", "a\u0085b", "must not contain control characters"},
		{"invalid UTF-8", "a\xffb", "must be valid UTF-8"},
	})
}

// TestMetadataRule pins the one rule of metadata, applied by the create API
// (CheckMetadata) and to every draft: printable UTF-8 keys and values (no
// NUL, CR or LF: they reach merchants' logs and exports), within the sizes.
func TestMetadataRule(t *testing.T) {
	values := fmt.Sprintf("values must be at most %d bytes of text without control characters", MaxMetadataValLen)
	keys := fmt.Sprintf("keys must be 1-%d bytes of printable text", MaxMetadataKeyLen)
	checkTextRule(t, "metadata", func(v string) error { return CheckMetadata(map[string]string{"table": v}) },
		func(d *Draft, v string) { d.Metadata = map[string]string{"table": v} }, []textCase{
			{"empty value", "", ""},
			{"Chinese value", "靠窗 7 号桌", ""},
			{"value at the limit", strings.Repeat("v", MaxMetadataValLen), ""},
			{"value too long", strings.Repeat("v", MaxMetadataValLen+1), values},
			{"NUL in a value", "a\x00b", values},
			{"CR LF in a value", "a\r\nSet-Cookie: x", values},
			{"invalid UTF-8 in a value", "a\xffb", values},
		})
	checkTextRule(t, "metadata", func(k string) error { return CheckMetadata(map[string]string{k: "v"}) },
		func(d *Draft, k string) { d.Metadata = map[string]string{k: "v"} }, []textCase{
			{"key", "table", ""},
			{"empty key", "", keys},
			{"key too long", strings.Repeat("k", MaxMetadataKeyLen+1), keys},
			{"key at the limit", strings.Repeat("k", MaxMetadataKeyLen), ""},
			{"newline in a key", "a\nb", keys},
			{"NUL in a key", "a\x00b", keys},
			{"invalid UTF-8 key", "a\xffb", keys},
		})
	many := map[string]string{}
	for i := range MaxMetadata + 1 {
		many[fmt.Sprint("k", i)] = "v"
	}
	var fe *FieldError
	if err := CheckMetadata(many); !errors.As(err, &fe) || fe.Field != "metadata" {
		t.Errorf("%d pairs: %v", len(many), err)
	}
}

// TestAmountsRule pins the one rule of an amount breakdown, which the
// create API applies by calling Amounts.Check and the domain applies to
// every draft: each refusal is a FieldError naming the API's field, the
// same through Check and through NewCheckout.
func TestAmountsRule(t *testing.T) {
	rng := fmt.Sprintf("must be between 0 and %d (fen)", int64(MaxFen))
	for _, tt := range []struct {
		name       string
		a          Amounts
		field, msg string
	}{
		{"adds up", Amounts{Original: 1200, Discount: 100, Ignore: 100, Trade: 1000}, "", ""},
		{"no breakdown", Amounts{Original: 1, Trade: 1}, "", ""},
		{"zero amount", Amounts{}, "amount", "must be greater than 0 (fen)"},
		{"negative amount", Amounts{Original: -5, Trade: -5}, "amount", "must be greater than 0 (fen)"},
		{"amount over MaxFen", Amounts{Original: MaxFen + 1, Trade: MaxFen + 1}, "amount", fmt.Sprintf("must be at most %d fen", int64(MaxFen))},
		{"negative original", Amounts{Original: -1, Trade: 1}, "original_amount", rng},
		{"negative discount", Amounts{Original: 1, Discount: -1, Trade: 1}, "discount_amount", rng},
		{"ignore over MaxFen", Amounts{Original: 1, Ignore: MaxFen + 1, Trade: 1}, "ignore_amount", rng},
		{"does not add up", Amounts{Original: 1000, Discount: 100, Trade: 1000}, "original_amount",
			"original_amount − discount_amount − ignore_amount must equal amount"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := draft("m")
			d.Amounts = tt.a
			_, newErr := NewCheckout(d, time.Now())
			for _, err := range []error{tt.a.Check(), newErr} {
				if tt.field == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					continue
				}
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field || fe.Message != tt.msg || !errors.Is(err, ErrInvalid) {
					t.Errorf("err = %#v, want %s: %s (ErrInvalid)", err, tt.field, tt.msg)
				}
			}
		})
	}
}

// textCase is a value of a text field and the FieldError message it gets
// ("" when accepted).
type textCase struct{ name, value, msg string }

// checkTextRule runs the cases through the rule's owner (check) and through
// NewCheckout with the value set on a draft: both must agree, refusing with
// a FieldError on field that matches ErrInvalid.
func checkTextRule(t *testing.T, field string, check func(string) error, set func(*Draft, string), cases []textCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := check(tt.value)
			d := draft("m")
			set(d, tt.value)
			_, newErr := NewCheckout(d, time.Now())
			if tt.msg == "" {
				if err != nil || newErr != nil {
					t.Fatalf("refused: %v / %v", err, newErr)
				}
				return
			}
			for _, err := range []error{err, newErr} {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != field || fe.Message != tt.msg || !errors.Is(err, ErrInvalid) {
					t.Errorf("err = %#v, want %s: %s (ErrInvalid)", err, field, tt.msg)
				}
			}
		})
	}
}

// TestStatusPaid pins which statuses count as paid: the payer pages, the
// cancel API and the status stream all ask Status.Paid.
func TestStatusPaid(t *testing.T) {
	for s, want := range map[Status]bool{
		StatusOpen: false, StatusPending: false, StatusPaid: true, StatusPartiallyRefunded: true,
		StatusRefunded: true, StatusExpired: false, StatusCancelled: false, "failed": false, "": false,
	} {
		if s.Paid() != want {
			t.Errorf("%q.Paid() = %v, want %v", s, s.Paid(), want)
		}
	}
}

// TestEffectiveLatePolicy pins the one precedence: the checkout's policy,
// then its store's, then accept, which the config, the directory, the
// create API and the confirmation all use.
func TestEffectiveLatePolicy(t *testing.T) {
	for _, tt := range []struct {
		choices []LatePolicy
		want    LatePolicy
	}{
		{nil, LatePolicyAccept},
		{[]LatePolicy{""}, LatePolicyAccept},
		{[]LatePolicy{"", ""}, LatePolicyAccept},
		{[]LatePolicy{"", LatePolicyRefund}, LatePolicyRefund},
		{[]LatePolicy{LatePolicyAccept, LatePolicyRefund}, LatePolicyAccept},
		{[]LatePolicy{LatePolicyRefund, LatePolicyAccept}, LatePolicyRefund},
		{[]LatePolicy{"keep", LatePolicyRefund}, LatePolicyRefund},
	} {
		if got := EffectiveLatePolicy(tt.choices...); got != tt.want {
			t.Errorf("EffectiveLatePolicy(%q) = %q, want %q", tt.choices, got, tt.want)
		}
	}
	if DefaultLatePolicy != LatePolicyAccept {
		t.Errorf("default %q", DefaultLatePolicy)
	}
	// A store without a policy gets the default in the directory.
	st := testStore("main")
	if _, err := NewDirectory([]*Merchant{{ID: "m", Name: "M", Stores: []*Store{st}}}); err != nil {
		t.Fatal(err)
	}
	if st.LatePolicy != DefaultLatePolicy {
		t.Errorf("directory left the store's policy %q", st.LatePolicy)
	}
}
