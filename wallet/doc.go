// Package wallet resolves a payer's identity inside the Chinese mobile wallets:
// the WeChat official-account openid (OAuth2 snsapi_base), the WeChat
// mini-program openid (code2session) and the Alipay buyer id (auth_base and
// alipay.system.oauth.token).
//
// The gateway needs these ids to place in-wallet (JSAPI) orders. Every base URL
// is a field of the client so that the same code talks to the real providers,
// to the offline emulator in wallet/walletsim, and to httptest servers.
//
// The package keeps nothing: access tokens, refresh tokens and session keys
// that the providers hand back are dropped inside the call and never logged,
// returned or put into errors.
package wallet
