// Package gateway speaks the aggregated payment gateway's protocol: the
// AES-256-ECB envelope, md5(sha1) signatures, the typed endpoints (paylist,
// order, order/view, payorder, paystatus, paycancel, payrefund, mpconfig) and
// the verification of the async notify and front-end jump callbacks.
//
// It knows nothing of HTTP servers, Redis or pages. One Client serves many
// stores: credentials travel as Store values, never as globals, and the secret
// parts (open_key, shop password) never print.
//
// The wire format follows the gateway's own document
// (docs/gateway/gateway-api.zh.txt, summarised in English in
// docs/gateway/PROTOCOL.md) and tolerates the quirks of the real server:
// numbers as strings, null optionals, stray spaces in JSAPI parameters and the
// ord_stautus misspelling.
package gateway
