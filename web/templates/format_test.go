package templates

import (
	"math"
	"testing"
)

func TestFormatFen(t *testing.T) {
	tests := []struct {
		fen  int64
		want string
	}{
		{0, "¥0.00"},
		{1, "¥0.01"},
		{9, "¥0.09"},
		{10, "¥0.10"},
		{99, "¥0.99"},
		{100, "¥1.00"},
		{1234, "¥12.34"},
		{99999, "¥999.99"},
		{100000, "¥1,000.00"},
		{100001, "¥1,000.01"},
		{1234567, "¥12,345.67"},
		{10_000_000, "¥100,000.00"},
		{100_000_000, "¥1,000,000.00"},
		{-1234567, "-¥12,345.67"},
		{-1, "-¥0.01"},
		{-5, "-¥0.05"},
		{-1234, "-¥12.34"},
		{-100, "-¥1.00"},
		{math.MaxInt64, "¥92,233,720,368,547,758.07"},
		{math.MinInt64, "-¥92,233,720,368,547,758.08"},
		{math.MinInt64 + 1, "-¥92,233,720,368,547,758.07"},
	}
	for _, tt := range tests {
		if got := FormatFen(tt.fen); got != tt.want {
			t.Errorf("FormatFen(%d) = %q, want %q", tt.fen, got, tt.want)
		}
	}
}

// TestFormatFenExact checks every cent value of a range against a
// construction that shares no code with FormatFen.
func TestFormatFenExact(t *testing.T) {
	digits := "0123456789"
	for fen := int64(-2_000_000); fen <= 2_000_000; fen += 7 {
		u := fen
		sign := ""
		if u < 0 {
			sign, u = "-", -u
		}
		want := sign + "¥" + grouped(itoa(u/100)) + "." + string(digits[u%100/10]) + string(digits[u%10])
		if got := FormatFen(fen); got != want {
			t.Fatalf("FormatFen(%d) = %q, want %q", fen, got, want)
		}
	}
}

// grouped puts a comma before each group of three digits from the right,
// by string slicing from the left.
func grouped(d string) string {
	head := len(d) % 3
	if head == 0 {
		head = 3
	}
	out := d[:min(head, len(d))]
	for i := head; i < len(d); i += 3 {
		out += "," + d[i:i+3]
	}
	return out
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func FuzzFormatFen(f *testing.F) {
	for _, s := range []int64{0, 1, -1, 1234, math.MaxInt64, math.MinInt64} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, fen int64) {
		s := FormatFen(fen)
		// Shape: optional '-', '¥', digits grouped by three with commas,
		// '.', two digits; no float noise.
		rest := s
		if fen < 0 {
			if rest[0] != '-' {
				t.Fatalf("FormatFen(%d) = %q: negative without '-'", fen, s)
			}
			rest = rest[1:]
		}
		if len(rest) < len("¥0.00") || rest[:len("¥")] != "¥" || rest[len(rest)-3] != '.' {
			t.Fatalf("FormatFen(%d) = %q: bad shape", fen, s)
		}
		whole := rest[len("¥") : len(rest)-3]
		for i, r := range whole {
			// Counting from the '.', every fourth character is a comma.
			if (len(whole)-i)%4 == 0 {
				if r != ',' || i == 0 {
					t.Fatalf("FormatFen(%d) = %q: %q where a comma goes", fen, s, r)
				}
				continue
			}
			if r < '0' || r > '9' {
				t.Fatalf("FormatFen(%d) = %q: non-digit %q", fen, s, r)
			}
		}
		// Last two digits are the cents exactly.
		c := fen % 100
		if c < 0 {
			c = -c
		}
		if got := int64(rest[len(rest)-2]-'0')*10 + int64(rest[len(rest)-1]-'0'); got != c {
			t.Fatalf("FormatFen(%d) = %q: cents %d, want %d", fen, s, got, c)
		}
	})
}

func TestClock(t *testing.T) {
	for secs, want := range map[int64]string{-5: "0:00", 0: "0:00", 9: "0:09", 61: "1:01", 1799: "29:59", 3600: "1:00:00", 86399: "23:59:59"} {
		if got := clock(secs); got != want {
			t.Errorf("clock(%d) = %q, want %q", secs, got, want)
		}
	}
}

func TestResultState(t *testing.T) {
	for status, want := range map[string]string{
		"paid": "paid", "partially_refunded": "paid", "refunded": "paid",
		"pending": "pending", "open": "unpaid", "failed": "failed",
		"expired": "expired", "cancelled": "cancelled",
		"": "pending", "PAID": "pending", "<script>": "pending",
	} {
		if got := ResultState(status); got != want {
			t.Errorf("ResultState(%q) = %q, want %q", status, got, want)
		}
	}
}

func TestInitial(t *testing.T) {
	for name, want := range map[string]string{"沙箱咖啡": "沙", "acme": "A", "  bob": "B", "": "¥", "\xff": "¥"} {
		if got := initial(name); got != want {
			t.Errorf("initial(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestCountdownTone(t *testing.T) {
	for _, tt := range []struct {
		secs int64
		want string
	}{
		{0, "urgent"}, {1, "urgent"}, {120, "urgent"}, {121, ""}, {1800, ""}, {3600, ""}, {3601, "far"}, {86400, "far"},
	} {
		if got := countdownTone(tt.secs); got != tt.want {
			t.Errorf("countdownTone(%d) = %q, want %q", tt.secs, got, tt.want)
		}
	}
}
