package payments

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// ErrInvalidAccounts is wrapped by every error of building Accounts.
var ErrInvalidAccounts = errors.New("invalid gateway accounts")

// Accounts are the stores' accounts at the gateway: the open_id, open_key
// and base URL each store pays through. They live here, beside the use
// cases that sign with them, rather than in checkout's stores, so that the
// domain knows no protocol. config fills them from the merchants file (the
// demo from its sandbox); the use cases and the daily reconciliation read
// them. Safe for concurrent reads once built; Replace swaps all of them at
// once (a reload of the merchants file), so the use cases holding the
// *Accounts see the new set.
type Accounts struct {
	idx atomic.Pointer[accountIndex]
}

// accountIndex is one version of the accounts; Add fills it before it is
// shared, nothing changes it after.
type accountIndex struct {
	byStore  map[storeKey]*gateway.Store
	byOpenID map[string]storeKey
}

type storeKey struct{ merchantID, storeID string }

// NewAccounts returns an empty set; Add fills it.
func NewAccounts() *Accounts {
	a := &Accounts{}
	a.idx.Store(&accountIndex{byStore: map[storeKey]*gateway.Store{}, byOpenID: map[string]storeKey{}})
	return a
}

// Replace makes a serve next's accounts from now on. next should not be
// used afterwards except through a.
func (a *Accounts) Replace(next *Accounts) {
	a.idx.Store(next.idx.Load())
}

// Add gives store storeID of merchantID its gateway account. An open_id
// names one store only: notifies find their store by it.
func (a *Accounts) Add(merchantID, storeID string, st *gateway.Store) error {
	k := storeKey{merchantID, storeID}
	ix := a.idx.Load()
	switch {
	case st == nil || st.OpenID == "":
		return fmt.Errorf("%w: merchant %s: store %s has no gateway open_id", ErrInvalidAccounts, merchantID, storeID)
	case ix.byStore[k] != nil:
		return fmt.Errorf("%w: merchant %s: store %s has two gateway accounts", ErrInvalidAccounts, merchantID, storeID)
	}
	if _, dup := ix.byOpenID[st.OpenID]; dup {
		return fmt.Errorf("%w: merchant %s: store %s: open_id %q is used by another store", ErrInvalidAccounts, merchantID, storeID, st.OpenID)
	}
	ix.byStore[k], ix.byOpenID[st.OpenID] = st, k
	return nil
}

// Of is the gateway account of store storeID of merchantID.
func (a *Accounts) Of(merchantID, storeID string) (*gateway.Store, bool) {
	st, ok := a.idx.Load().byStore[storeKey{merchantID, storeID}]
	return st, ok
}

// ByOpenID finds the store whose gateway account is openID: notifies name
// their store this way.
func (a *Accounts) ByOpenID(openID string) (merchantID, storeID string, st *gateway.Store, ok bool) {
	ix := a.idx.Load()
	k, ok := ix.byOpenID[openID]
	if !ok {
		return "", "", nil, false
	}
	return k.merchantID, k.storeID, ix.byStore[k], true
}

// Check reports a store of dir without an account, or an account for a
// store dir does not have: the service starts only when the two agree.
func (a *Accounts) Check(dir *checkout.Directory) error {
	ix := a.idx.Load()
	n := 0
	for _, m := range dir.Merchants() {
		for _, s := range m.Stores {
			if _, ok := a.Of(m.ID, s.ID); !ok {
				return fmt.Errorf("%w: merchant %s: store %s has no gateway account", ErrInvalidAccounts, m.ID, s.ID)
			}
			n++
		}
	}
	if n != len(ix.byStore) {
		for k := range ix.byStore {
			if _, ok := dir.Store(k.merchantID, k.storeID); !ok {
				return fmt.Errorf("%w: a gateway account for merchant %s's store %s, which is not in the directory", ErrInvalidAccounts, k.merchantID, k.storeID)
			}
		}
	}
	return nil
}

// store is one of a merchant's stores with its gateway account: what every
// gateway call for one of its checkouts needs.
type store struct {
	*checkout.Store
	Gateway *gateway.Store
}

// store finds store storeID of merchantID and its account.
func (a *Accounts) store(dir *checkout.Directory, merchantID, storeID string) (*store, bool) {
	st, ok := dir.Store(merchantID, storeID)
	if !ok {
		return nil, false
	}
	gs, ok := a.Of(merchantID, storeID)
	if !ok {
		return nil, false
	}
	return &store{Store: st, Gateway: gs}, true
}
