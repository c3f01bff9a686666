package templates

import "strconv"

// ConsoleFigures are one period's figures on the overview, each with the
// URL of the list behind it.
type ConsoleFigures struct {
	// From and To are the period's days, YYYY-MM-DD in UTC+8, inclusive.
	From, To string
	// Paid and PaidAmount are the payments confirmed in the period.
	Paid       int
	PaidAmount string
	PaidURL    string
	// Refunds and RefundAmount are the refunds that succeeded in it.
	Refunds      int
	RefundAmount string
	RefundsURL   string
	// Late counts payments that arrived after their checkout ended.
	Late    int
	LateURL string
	// Duplicates counts second payments refunded automatically.
	Duplicates    int
	DuplicatesURL string
	// Failing counts events whose webhook delivery is failing.
	Failing    int
	FailingURL string
	// AtLeast says the event figures stopped at the scan's bound.
	AtLeast bool
}

// ConsoleOverviewView is the overview page's data.
type ConsoleOverviewView struct {
	Page
	MerchantName string
	Today, Week  ConsoleFigures
	// Mismatches counts the open differences of the kept reconciliations.
	Mismatches    int
	MismatchesURL string
}

// atLeast writes n, as "≥ n" when counting stopped at a bound.
func atLeast(n int, capped bool) string {
	if capped {
		return "≥ " + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// ConsoleLinkRow is one payment link as the console shows it: amounts in
// yuan, times in UTC+8.
type ConsoleLinkRow struct {
	ID, Description, Reference, Store, Payments, URL, Created string
	// Amount is the fixed amount; Entered says the payer enters it,
	// between Min and Max ("" for no bound).
	Amount, Min, Max string
	Entered          bool
	MaxPayments      string
	// Active is the merchant's switch; Open says it takes payers now.
	Active, Open bool
	// Sandbox marks a link of a sandbox store: test data.
	Sandbox bool
}

// ConsoleLinksView is the payment links list's data.
type ConsoleLinksView struct {
	Page
	MerchantName string
	Rows         []ConsoleLinkRow
	// CanManage shows the create button (admins).
	CanManage bool
	NextURL   string
}

// ConsoleOption is one choice of a select.
type ConsoleOption struct {
	Value, Label string
	Sandbox      bool
}

// ConsoleLinkFormView is the create form (Link nil) or a link's page with
// its edit form.
type ConsoleLinkFormView struct {
	Page
	MerchantName string
	CSRF         string
	Link         *ConsoleLinkRow
	// CanManage shows the edit form and the actions (admins).
	CanManage bool
	// AmountLocked says a checkout used the link: its amount is fixed.
	AmountLocked bool
	Stores       []ConsoleOption
	// The fields as typed (amounts in yuan): Mode is fixed or entered.
	Mode, Amount, Min, Max, Presets            string
	Description, Reference, Store, MaxPayments string
	ActiveUntil, InactiveMessage               string
	// ErrorParam and ErrorMessage say why the form was refused.
	ErrorParam, ErrorMessage string
}

// Editable reports whether the page shows the form.
func (v ConsoleLinkFormView) Editable() bool { return v.Link == nil || v.CanManage }

// linkFormAction is where the form posts: a new link, or the link's update.
func linkFormAction(l *ConsoleLinkRow) string {
	if l == nil {
		return "/console/links"
	}
	return "/console/links/" + l.ID
}

// ConsoleKeyRow is an API key as the console shows it: never the key,
// which is not stored; its label and hint when the merchants file has
// them.
type ConsoleKeyRow struct {
	ID, Label, Hint string
	Live            bool
}

// ConsoleEventDeliveryRow is one event and its delivery: the last attempt's
// time, status code (or error) and the start of the answer.
type ConsoleEventDeliveryRow struct {
	EventID, Type, CheckoutID, State, Created, Attempts string
	LastAt, LastStatus, LastError, LastResponse         string
	Failing                                             bool
}

// ConsoleDevelopersView is the developers page's data.
type ConsoleDevelopersView struct {
	Page
	MerchantName string
	Keys         []ConsoleKeyRow
	WebhookURL   string
	// Signed says the merchant has a webhook secret.
	Signed     bool
	Deliveries []ConsoleEventDeliveryRow
	// CanSend shows the test event button (support, admin).
	CanSend bool
	CSRF    string
	// Sent says a test event was just queued.
	Sent bool
}

// VerifyGoSnippet checks a delivery with the Go client's webhook package.
const VerifyGoSnippet = `import "github.com/wallet-checkout/checkout/client/webhook"

func handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	// The raw body, before any parsing; secrets from your environment.
	err = webhook.Verify(body, r.Header.Get(webhook.HeaderSignature),
		[]string{os.Getenv("CHECKOUT_WEBHOOK_SECRET")}, 0, time.Now())
	if err != nil {
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	// Deduplicate on the event's id, then act on its type (ping: just 2xx).
	w.WriteHeader(http.StatusNoContent)
}`

// VerifyNodeSnippet checks a delivery with Node.js's crypto alone.
const VerifyNodeSnippet = `const crypto = require("node:crypto");

// rawBody: the request body as received (a Buffer), before JSON.parse.
function verify(rawBody, header, secret, toleranceSeconds = 300) {
  let t = NaN;
  const sigs = [];
  for (const part of (header || "").split(",")) {
    const [k, v] = part.split("=", 2);
    if (k === "t") t = Number(v);
    else if (k === "v1") sigs.push(Buffer.from(v, "hex"));
  }
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const want = crypto.createHmac("sha256", secret).update(t + ".").update(rawBody).digest();
  return sigs.some((got) => got.length === want.length && crypto.timingSafeEqual(got, want));
}`

// ConsoleExportView is the export form's data.
type ConsoleExportView struct {
	Page
	MerchantName string
	// From and To are the range as given (YYYY-MM-DD, UTC+8).
	From, To string
	// Bad says the range given is not a valid one.
	Bad     bool
	MaxDays int
}

// ConsoleCounterView is the counter screen's data: the payments arrive
// through its event stream.
type ConsoleCounterView struct {
	Page
	MerchantName string
}
