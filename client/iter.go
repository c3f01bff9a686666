package client

// Iter walks a list across its pages:
//
//	it := c.IterCheckouts(ctx, &client.CheckoutListParams{Status: client.StatusPaid})
//	for it.Next() {
//		co := it.Current()
//		…
//	}
//	if err := it.Err(); err != nil { … }
//
// It reads the next page only when the current one is used up. It is not
// safe for concurrent use.
type Iter[T any] struct {
	fetch   func(cursor string) (items []T, next string, more bool, err error)
	cursor  string
	page    []T
	i       int
	cur     T
	done    bool
	err     error
	started bool
}

func newIter[T any](fetch func(string) ([]T, string, bool, error), cursor string) *Iter[T] {
	return &Iter[T]{fetch: fetch, cursor: cursor}
}

// Next moves to the next item and reports whether there is one; after
// false, Err says whether the list ended or a page could not be read.
func (it *Iter[T]) Next() bool {
	for it.i >= len(it.page) {
		if it.done || it.err != nil {
			return false
		}
		items, next, more, err := it.fetch(it.cursor)
		if err != nil {
			it.err = err
			return false
		}
		it.page, it.i = items, 0
		// The list ends when the API says so, or when it gives no cursor
		// to go on from (never loop on the same page).
		if !more || next == "" || (it.started && next == it.cursor) {
			it.done = true
		}
		it.started = true
		it.cursor = next
	}
	it.cur = it.page[it.i]
	it.i++
	return true
}

// Current is the item Next moved to.
func (it *Iter[T]) Current() T { return it.cur }

// Err is the error that ended the iteration, or nil.
func (it *Iter[T]) Err() error { return it.err }

// Cursor is where the iteration would continue from after the current
// page: keep it to resume later as StartingAfter.
func (it *Iter[T]) Cursor() string { return it.cursor }
