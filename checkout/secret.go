package checkout

import "log/slog"

const redacted = "[redacted]"

// Secret is a string that never prints: app secrets, private keys, webhook
// signing secrets, and the service's own keys. Reveal returns the value
// for the one place that needs it. (The gateway's credentials have their
// own types in package gateway, which imports nothing of ours.)
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String hides the secret.
func (s Secret) String() string { return redacted }

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return redacted }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the secret from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
