package sessions_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
	"github.com/wallet-checkout/checkout/wallet/walletsim"
)

// The WeChat snsapi_base round trip against the emulator: the redirect
// stores nothing (a signed state, and a cookie binding it to the browser),
// the callback spends the state once, exchanges the code and starts the
// payer's session with the openid, and a refresh of the callback (same
// state, used code) reuses the identity instead of failing.
func Example_weChatOAuth() {
	m, _ := miniredis.Run()
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()

	const appID, secret = "wx0a11111111111111", "oa-secret"
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	sim := walletsim.New(walletsim.Config{
		PublicURL: srv.URL + "/sandbox/wallet",
		Apps:      map[string]string{appID: secret},
		Logger:    slog.New(slog.DiscardHandler),
	})
	mux.Handle("/sandbox/wallet/", sim)
	wc := sim.WeChat(srv.Client())
	payers, err := sessions.NewPayers(rdb, sessions.Config{
		PublicURL: srv.URL,
		KeyPairs:  [][]byte{[]byte("an example hash key of 32+ bytes!!")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	states, err := sessions.NewOAuthStates(rdb, sessions.OAuthConfig{
		Secret:    []byte("an example signing secret of 32+ bytes"),
		PublicURL: srv.URL,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	mux.HandleFunc("GET /c/{id}/wechat", func(w http.ResponseWriter, r *http.Request) {
		p, err := payers.Load(r)
		if err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		if _, ok := p.WeChatOpenID(appID); !ok {
			state, binding := states.Begin(r.PathValue("id"), "/c/"+r.PathValue("id"), time.Now())
			http.SetCookie(w, binding)
			http.Redirect(w, r, wc.AuthorizeURL(appID, srv.URL+"/c/"+r.PathValue("id")+"/wechat/callback", state), http.StatusFound)
			return
		}
		fmt.Fprint(w, "pay page")
	})
	mux.HandleFunc("GET /c/{id}/wechat/callback", func(w http.ResponseWriter, r *http.Request) {
		p, err := payers.Load(r)
		if err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		// A refresh of this page: the state is spent, but the identity
		// from the first visit is in the session.
		if _, ok := p.WeChatOpenID(appID); ok {
			fmt.Fprint(w, "already identified")
			return
		}
		states.End(w, r)
		id := r.PathValue("id")
		if err := states.Use(r.Context(), r, r.URL.Query().Get("state"), id, "/c/"+id, time.Now()); err != nil {
			http.Error(w, "stale or forged state", http.StatusBadRequest)
			return
		}
		who, err := wc.ExchangeCode(r.Context(), appID, secret, r.URL.Query().Get("code"))
		var we *wallet.WeChatError
		switch {
		case errors.As(err, &we):
			http.Error(w, "wechat refused the code", http.StatusBadGateway)
			return
		case err != nil:
			http.Error(w, "wechat unreachable", http.StatusBadGateway)
			return
		case who.Snapshot:
			fmt.Fprint(w, "请点击“使用完整服务”")
			return
		}
		p.SetWeChatOpenID(appID, who.OpenID)
		if err := payers.Save(w, r, p); err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "identified")
	})

	jar, _ := cookiejar.New(nil)
	var callback string
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Path == "/c/ck_1/wechat/callback" {
			callback = r.URL.String()
		}
		return nil
	}}
	get := func(u string) string {
		resp, err := browser.Get(u)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	get(srv.URL + "/sandbox/wallet/payer?payer=alice")
	fmt.Println(get(srv.URL + "/c/ck_1/wechat")) // redirect, authorize, callback
	fmt.Println(get(callback))                   // the payer refreshes the callback
	fmt.Println(get(srv.URL + "/c/ck_1/wechat")) // no redirect any more
	// Output:
	// identified
	// already identified
	// pay page
}
