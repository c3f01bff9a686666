package checkout

// CanManageLinks reports whether r may create, change and deactivate
// payment links: admins only; the other roles see them.
func (r Role) CanManageLinks() bool { return r == RoleAdmin }

// CanSendEvents reports whether r may resend webhook events and send a
// test event: support and admins.
func (r Role) CanSendEvents() bool { return r == RoleSupport || r == RoleAdmin }
