package checkout

// CanManageLinks reports whether r may create, change and deactivate
// payment links: admins only; the other roles see them.
func (r Role) CanManageLinks() bool { return r == RoleAdmin }
