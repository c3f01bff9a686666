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
