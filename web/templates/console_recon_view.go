package templates

// ConsoleReconRow is a reconciliation report (one store's gateway day) as
// the console shows it: amounts in yuan, times in UTC+8.
type ConsoleReconRow struct {
	ID, URL string
	// Date is the gateway day, YYYY-MM-DD in UTC+8.
	Date string
	// Store is the store's name (its id when it has none).
	StoreID, Store string
	// Sandbox marks a sandbox store's report: test data.
	Sandbox bool
	// Runs counts the runs (1 + re-runs); Updated is the last, UTC+8.
	Runs    int
	Updated string
	// The gateway's list of the day: orders and paid amount, refunds and
	// succeeded amount.
	Payments      int
	PaymentAmount string
	Refunds       int
	RefundAmount  string
	// Ours: what our records add up to in the same terms
	// (reconciliation.OurAmounts); PaymentsDiffer and RefundsDiffer mark a
	// side that disagrees.
	OurPaymentAmount, OurRefundAmount string
	PaymentsDiffer, RefundsDiffer     bool
	// Sent is how many numbers the service sent that day; InFlight how
	// many were too recent to compare.
	Sent, InFlight int
	// The differences by status, and all of them.
	Open, AutoFixed, Acknowledged, Resolved, Differences int
}

// ConsoleMismatchRow is one difference of a report: what each side says.
type ConsoleMismatchRow struct {
	ID string
	// Report is the report it belongs to (the open list shows its day
	// and store, and links to it).
	Report ConsoleReconRow
	// Class and Status are the API's codes; reconClassKey and
	// reconStatusKey name them.
	Class, Status string
	Explained     bool
	OutNo, OrdNo  string
	Refund        bool
	// CheckoutID and PaymentURL: the merchant's checkout it belongs to.
	CheckoutID, PaymentURL string
	// Amounts in yuan as each side sees them ("" when that side has none).
	GatewayAmount, ServiceAmount string
	GatewayState, ServiceState   string
	// AmountsDiffer and StatesDiffer mark what disagrees.
	AmountsDiffer, StatesDiffer bool
	Detail, Note, FirstSeen     string
}

// ConsoleReconView is the reports list, or with Open the open
// differences of every report.
type ConsoleReconView struct {
	Page
	MerchantName string
	Open         bool
	Reports      []ConsoleReconRow
	Mismatches   []ConsoleMismatchRow
	NextURL      string
}

// ConsoleReconDetailView is one report with all its differences.
type ConsoleReconDetailView struct {
	Page
	MerchantName string
	Report       ConsoleReconRow
	Mismatches   []ConsoleMismatchRow
}

// reconClassKeys names each class of difference in the catalogue.
var reconClassKeys = map[string]string{
	"unknown_to_us":          "console.recon.class.unknown_to_us",
	"foreign":                "console.recon.class.foreign",
	"unknown_to_gateway":     "console.recon.class.unknown_to_gateway",
	"amount_differs":         "console.recon.class.amount_differs",
	"state_differs":          "console.recon.class.state_differs",
	"refund_missing_ours":    "console.recon.class.refund_missing_ours",
	"refund_missing_gateway": "console.recon.class.refund_missing_gateway",
	"day_boundary":           "console.recon.class.day_boundary",
	"late_payment":           "console.recon.class.late_payment",
	"refund_deferred":        "console.recon.class.refund_deferred",
}

// reconStatusKeys names each status of a difference in the catalogue.
var reconStatusKeys = map[string]string{
	"open":         "console.recon.status.open",
	"auto_fixed":   "console.recon.status.auto_fixed",
	"acknowledged": "console.recon.status.acknowledged",
	"resolved":     "console.recon.status.resolved",
}

// reconLabel translates code through keys; an unknown code (a class
// added later) is shown as it is.
func reconLabel(p Page, keys map[string]string, code string) string {
	if k, ok := keys[code]; ok {
		return p.T(k)
	}
	return code
}

// orDash shows a missing value as a dash.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
