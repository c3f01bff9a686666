package checkout

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Hooks run a caller's Lua inside one of the repository's scripts: in the
// same atomic step and the same round trip as the repository's own read or
// write, on keys of the caller's that share the checkout's hash slot (their
// names contain "{" + id + "}", so this holds on Redis Cluster too). The
// notify intake uses them to read an attempt together with its effect
// markers and paystatus window, and to claim what follows a payment in the
// step that records it.
//
// A hook is the body of a Lua function. It sees the locals that its script
// documents, `keys` (the caller's keys, from 1) and `args` (the caller's
// arguments, from 1), and returns one value, never nil. The repository's
// field names stay the repository's: a hook reads the checkout and the
// attempt only through those locals.

// AttemptScript reads the checkout and one attempt in one step and runs a
// hook on them (Repo.ReadAttempt). Build it once, at package level.
type AttemptScript struct{ s *redis.Script }

// NewAttemptScript builds an AttemptScript. The hook sees `checkout` (a
// table: status, merchant, store, paid_attempt, a number, 0 when none) and
// `attempt` (seq, a number, status, ord_no, empty when unknown). A hook
// whose answer says all its caller needs returns a second value, true:
// the records are then left out of the reply (fewer bytes and allocations
// on a hot path) and ReadAttempt returns a nil checkout and attempt.
func NewAttemptScript(hook string) *AttemptScript {
	return &AttemptScript{s: redis.NewScript(`
local seq = tonumber(ARGV[1])
local keys, args = {}, {}
for i = 3, #KEYS do keys[#keys + 1] = KEYS[i] end
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
local co = redis.call('HGETALL', KEYS[1])
if #co == 0 then return {-1} end
local f = {}
for i = 1, #co, 2 do f[co[i]] = co[i + 1] end
local p = seq .. '.'
local att, a = {}, {}
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do
  if string.sub(flat[i], 1, #p) == p then
    att[#att + 1] = flat[i]
    att[#att + 1] = flat[i + 1]
    a[string.sub(flat[i], #p + 1)] = flat[i + 1]
  end
end
if not a['status'] then return {-2} end
local checkout = {status = f['status'], merchant = f['merchant'] or '', store = f['store'] or '',
  paid_attempt = tonumber(f['paid_attempt'] or '') or 0}
local attempt = {seq = seq, status = a['status'], ord_no = a['ord_no'] or ''}
local function hook()
` + hook + `
end
local answer, brief = hook()
if brief then return {2, answer} end
return {1, co, att, answer}
`)}
}

// ReadAttempt reads the checkout and attempt an out_no names and runs s's
// hook with keys and args, all in one round trip; it returns what the hook
// returned (and no checkout or attempt when the hook said it needs none).
// ErrNotFound (and no hook run) when the out_no is not ours or is gone.
func (r *Repo) ReadAttempt(ctx context.Context, s *AttemptScript, outNo string, keys []string, args ...any) (*Checkout, *Attempt, any, error) {
	id, seq, ok := ParseOutNo(outNo)
	if !ok {
		return nil, nil, nil, fmt.Errorf("out_no %.64q: %w", outNo, ErrNotFound)
	}
	ks := append([]string{r.keyCheckout(id), r.keyAttempts(id)}, keys...)
	argv := append([]any{seq}, args...)
	v, err := s.s.Run(ctx, r.rdb, ks, argv...).Slice()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("out_no %s: %w", outNo, err)
	}
	if len(v) == 0 {
		return nil, nil, nil, fmt.Errorf("out_no %s: %w: empty script answer", outNo, errCorrupt)
	}
	if code(v) < 0 {
		return nil, nil, nil, fmt.Errorf("out_no %s: %w", outNo, ErrNotFound)
	}
	if code(v) == 2 && len(v) == 2 {
		return nil, nil, v[1], nil
	}
	if len(v) < 4 {
		return nil, nil, nil, fmt.Errorf("out_no %s: %w: short script answer", outNo, errCorrupt)
	}
	c, err := fieldsAt(v, 1)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("out_no %s: %w", outNo, err)
	}
	flat, _ := v[2].([]any)
	af := make(map[string]string, len(flat)/2)
	for j := 0; j+1 < len(flat); j += 2 {
		k, _ := flat[j].(string)
		s, _ := flat[j+1].(string)
		af[k] = s
	}
	as, err := decodeAttempts(id, af)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("out_no %s: %w", outNo, err)
	}
	if len(as) != 1 || as[0].Seq != seq {
		return nil, nil, nil, fmt.Errorf("out_no %s: %w: attempt fields", outNo, errCorrupt)
	}
	return c, as[0], v[3], nil
}

// PayScript records a payment and runs a hook in the same step
// (Repo.MarkPaidThen). Build it once, at package level.
type PayScript struct{ s *redis.Script }

// NewPayScript builds a PayScript. The hook runs once the payment is
// recorded or found recorded (never when MarkPaid would fail) and sees
// `code` (0 attempt paid already, 1 paid while another attempt had paid the
// checkout, 2 checkout moved to paid), `seq` (the attempt, a number) and
// `paid_attempt` (the attempt that paid the checkout, after the step).
func NewPayScript(hook string) *PayScript { return &PayScript{s: payScript(hook)} }

// payScript is luaPay with a hook (empty: none). KEYS[1] and KEYS[2] are
// the checkout's hashes, then the hook's keys (in the checkout's slot).
// ARGV[1] now, ARGV[2] retention, ARGV[3] the attempt, ARGV[4] its ord_no,
// then the hook's arguments. Returns {code} for codes < 0, else {code,
// status before, fields, hook's answer}. The expiry queue is not touched
// here: it is in another slot (Repo.markPaid).
func payScript(hook string) *redis.Script {
	if hook == "" {
		hook = "return 0"
	}
	return redis.NewScript(luaPrelude + luaPay + `
local code, st = pay(ARGV[3])
if code < 0 then return {code} end
local keys, args = {}, {}
for i = 3, #KEYS do keys[#keys + 1] = KEYS[i] end
for i = 5, #ARGV do args[#args + 1] = ARGV[i] end
local seq = tonumber(ARGV[3])
local paid_attempt = tonumber(redis.call('HGET', KEYS[1], 'paid_attempt') or '') or 0
local function hook()
` + hook + `
end
return {code, st, redis.call('HGETALL', KEYS[1]), hook()}
`)
}

// MarkPaidThen is MarkPaid with s's hook run, with keys and args, in the
// same step: it returns the payment and what the hook returned.
func (r *Repo) MarkPaidThen(ctx context.Context, id string, seq int, ordNo string, s *PayScript, keys []string,
	args ...any,
) (*Payment, any, error) {
	return r.markPaid(ctx, id, seq, ordNo, s.s, keys, args)
}
