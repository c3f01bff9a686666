package gateway

import (
	"encoding/json"
	"testing"
	"time"
)

func TestLooseInt(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{`12`, 12, false}, {`"12"`, 12, false}, {`" 12 "`, 12, false}, {`null`, 0, false}, {`""`, 0, false},
		{`-5`, -5, false}, {`100.0`, 100, false}, {`"100.00"`, 100, false}, {`1e2`, 100, false},
		{`0`, 0, false}, {`"0"`, 0, false}, {`12.5`, 0, true}, {`"abc"`, 0, true}, {`true`, 0, true},
		{`"9223372036854775807"`, 9223372036854775807, false},
	}
	for _, tt := range tests {
		var n Int
		err := json.Unmarshal([]byte(tt.in), &n)
		if (err != nil) != tt.wantErr || (!tt.wantErr && int64(n) != tt.want) {
			t.Errorf("Int(%s) = %d, %v", tt.in, n, err)
		}
	}
}

func TestLooseText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"abc"`, "abc"}, {`" MD5"`, "MD5"}, {`" prepay_id=wx1 "`, "prepay_id=wx1"}, {`null`, ""},
		{`123`, "123"}, {`"\u6210\u529f"`, "成功"}, {`"weixin:\/\/wxpay"`, "weixin://wxpay"},
		{`{"a":1}`, `{"a":1}`}, {`"2017071021001004310291381130\n"`, "2017071021001004310291381130"},
	}
	for _, tt := range tests {
		var s Text
		if err := json.Unmarshal([]byte(tt.in), &s); err != nil || string(s) != tt.want {
			t.Errorf("Text(%s) = %q, %v", tt.in, s, err)
		}
	}
}

func TestWireTime(t *testing.T) {
	var v struct {
		A, B, C, D Time
	}
	in := `{"A":"2017-06-29 11:03:11","B":null,"C":"","D":"0000-00-00 00:00:00"}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2017, 6, 29, 3, 3, 11, 0, time.UTC)
	if !v.A.Equal(want) {
		t.Errorf("A = %v, want %v (China time is UTC+8)", v.A, want)
	}
	if !v.B.IsZero() || !v.C.IsZero() || !v.D.IsZero() {
		t.Errorf("empty times not zero: %+v", v)
	}
	var bad Time
	if err := json.Unmarshal([]byte(`"29/06/2017"`), &bad); err == nil {
		t.Error("bad datetime accepted")
	}
	if FormatTime(want) != "2017-06-29 11:03:11" {
		t.Errorf("FormatTime = %s", FormatTime(want))
	}
}

func TestStatusAndTypes(t *testing.T) {
	var v struct {
		S1, S2 Status
		T      OrderType
	}
	if err := json.Unmarshal([]byte(`{"S1":"1","S2":9,"T":"2"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.S1 != StatusPaid || v.S2 != StatusPassword || v.T != OrderRefund {
		t.Errorf("%+v", v)
	}
	if !StatusPaid.Final() || !StatusCanceled.Final() || StatusAwaiting.Final() || StatusPassword.Final() {
		t.Error("Final wrong")
	}
}

func TestCancelResultSpellings(t *testing.T) {
	for _, in := range []string{`{"ord_no":"1","ord_status":4}`, `{"ord_no":"1","ord_stautus":"4"}`} {
		var c CancelResult
		if err := json.Unmarshal([]byte(in), &c); err != nil || c.Status != StatusCanceled || c.OrdNo != "1" {
			t.Errorf("%s → %+v %v", in, c, err)
		}
	}
}
