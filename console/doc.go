// Package console holds the merchant console's access rules that are not
// HTTP: console users' password hashes (argon2id, in the PHC string form
// `checkout hash-password` prints and the merchants file stores) and their
// one-time codes (TOTP, RFC 6238, enrolled with `checkout totp-new`), and
// the audit log of what console users do (Audit, in Redis).
// It imports nothing of ours.
package console
