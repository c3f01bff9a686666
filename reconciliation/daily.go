package reconciliation

import (
	"context"
	"errors"
	"time"
)

// DailyAfter is how long after midnight (UTC+8) the previous day is
// reconciled: the gateway's late notifies and our reconciler's last checks
// of the day have settled by then.
const DailyAfter = 10 * time.Minute

// Daily runs every store's reconciliation of the previous gateway day once,
// after DailyAfter past midnight UTC+8. Every replica runs one: the lease
// and a done marker per store and day make one of them do each day.
type Daily struct {
	s     *Service
	every time.Duration
}

// Daily returns the daily loop of s, looking every `every` (default 1 min).
func (s *Service) Daily(every time.Duration) *Daily {
	if every <= 0 {
		every = time.Minute
	}
	return &Daily{s: s, every: every}
}

// Run ticks until ctx ends.
func (d *Daily) Run(ctx context.Context) {
	d.s.log.Info("Daily reconciliation loop started", "after_midnight_utc8", DailyAfter.String(), "every", d.every.String())
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		d.Tick(ctx, d.s.now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Due is the day the daily run reconciles at now: yesterday (UTC+8) once
// DailyAfter has passed today, else the day before, in case its run was
// missed.
func Due(now time.Time) time.Time {
	today := dayOf(now)
	if now.Sub(today) >= DailyAfter {
		return today.AddDate(0, 0, -1)
	}
	return today.AddDate(0, 0, -2)
}

// Tick reconciles the due day of every store not done yet, and returns how
// many runs it did. Tests drive it with their clock.
func (d *Daily) Tick(ctx context.Context, now time.Time) int {
	s := d.s
	date := Due(now).Format(dateLayout)
	ran := 0
	for _, m := range s.dir.Merchants() {
		for _, st := range m.Stores {
			if ctx.Err() != nil {
				return ran
			}
			if _, ok := s.accounts.Of(m.ID, st.ID); !ok || !validKeyPart(m.ID) || !validKeyPart(st.ID) {
				continue
			}
			if done, err := s.dailyDone(ctx, m.ID, st.ID, date); err != nil || done {
				if err != nil {
					s.log.Warn("Daily reconciliation: cannot tell whether it ran", "store_id", st.ID, "error", err)
				}
				continue
			}
			r, err := s.reconcile(ctx, m.ID, st.ID, date, true)
			switch {
			case errors.Is(err, ErrBusy):
				// Another replica has it.
			case err != nil:
				s.log.Warn("Daily reconciliation failed; retried on the next tick", "merchant_id", m.ID,
					"store_id", st.ID, "date", date, "error", err)
			case r != nil:
				ran++
			}
		}
	}
	return ran
}
