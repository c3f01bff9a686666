package templates

// ConsoleLoginView is the sign-in page's data.
type ConsoleLoginView struct {
	Page
	// Email is what was typed, shown again after a failure.
	Email string
	// CSRF is the form's token.
	CSRF string
	// Failed, Locked and Expired say why the form is shown again: wrong
	// credentials (one message for every cause), too many attempts, or a
	// form too old to post (its token expired).
	Failed, Locked, Expired bool
}

// ConsoleHomeView is the signed-in home page's data.
type ConsoleHomeView struct {
	Page
	MerchantName string
	Email        string
	// Role is viewer, support or admin.
	Role string
	// CSRF is the token of the page's forms (sign-out).
	CSRF string
}

// roleName is the role's name in the page's language.
func (v ConsoleHomeView) roleName() string {
	switch v.Role {
	case "admin":
		return v.T("console.role.admin")
	case "support":
		return v.T("console.role.support")
	}
	return v.T("console.role.viewer")
}

// ConsoleAuditView is the audit log page's data.
type ConsoleAuditView struct {
	Page
	MerchantName string
	Entries      []ConsoleAuditRow
	// NextURL is the next (older) page, "" at the end.
	NextURL string
}

// ConsoleAuditRow is one audit entry as shown: the time already in UTC+8.
type ConsoleAuditRow struct {
	When, Actor, Action, Target, Detail, Address string
}

// ConsolePaymentsView is the payments list's data.
type ConsolePaymentsView struct {
	Page
	MerchantName string
	// Query and Status are the filters as given.
	Query, Status string
	// Statuses are the statuses the filter offers.
	Statuses []string
	Rows     []ConsolePaymentRow
	// NextURL is the next (older) page, "" at the end.
	NextURL string
}

// ConsolePaymentRow is one checkout as the list shows it: the time in
// UTC+8, the amount in yuan.
type ConsolePaymentRow struct {
	ID, Created, Reference, Amount, Status string
}

// ConsolePaymentView is one checkout's page: amounts in yuan, times in
// UTC+8.
type ConsolePaymentView struct {
	Page
	MerchantName                                     string
	ID, Reference, Amount, Refunded, Status, Created string
	Attempts                                         []ConsoleAttemptRow
	Refunds                                          []ConsoleRefundRow
}

// ConsoleAttemptRow is one gateway order of a checkout.
type ConsoleAttemptRow struct {
	Seq, Method, Scenario, OutNo, OrdNo, Amount, Status string
}

// ConsoleRefundRow is one refund of a checkout.
type ConsoleRefundRow struct {
	ID, Created, Amount, Status, Reason string
}
