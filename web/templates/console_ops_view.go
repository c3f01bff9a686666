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
