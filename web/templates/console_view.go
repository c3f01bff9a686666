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
