package app

import (
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/wallet"
	"github.com/wallet-checkout/checkout/wallet/walletsim"
)

// EmulatorPath is where the service mounts the wallet identity emulator
// (demo mode, and identity_providers.emulator).
const EmulatorPath = "/walletsim"

// identityEmulator builds the WeChat/Alipay identity emulator a merchants
// file with identity_providers.emulator asks for: it knows the sandbox
// stores' apps (official account and mini-program appids with their
// secrets, Alipay app ids with the public half of their private keys), it
// signs Alipay answers with the key the stores were given to trust, and it
// lives at the service's own public URL, where the providers now point.
func identityEmulator(pv config.Providers, dir *checkout.Directory, publicURL string, log *slog.Logger) (http.Handler, config.Providers, error) {
	apps := map[string]string{}
	alipayApps := map[string]*rsa.PublicKey{}
	addApp := func(id string, secret checkout.Secret, where string) error {
		if id == "" {
			return nil
		}
		if old, ok := apps[id]; ok && old != secret.Reveal() {
			return fmt.Errorf("identity emulator: WeChat appid %s has two different secrets (%s)", id, where)
		}
		apps[id] = secret.Reveal()
		return nil
	}
	for _, m := range dir.Merchants() {
		for _, st := range m.Stores {
			if !st.Sandbox {
				// config refuses such a file; this guards any other caller.
				return nil, pv, fmt.Errorf("identity emulator: store %s/%s is not a sandbox store", m.ID, st.ID)
			}
			where := m.ID + "/" + st.ID
			if err := addApp(st.WeChat.AppID, st.WeChat.AppSecret, where); err != nil {
				return nil, pv, err
			}
			if err := addApp(st.WeChat.MiniProgramAppID, st.WeChat.MiniProgramSecret, where); err != nil {
				return nil, pv, err
			}
			if st.Alipay.AppID == "" || st.Alipay.PrivateKey == "" {
				continue
			}
			key, err := wallet.ParseRSAPrivateKey(st.Alipay.PrivateKey.Reveal())
			if err != nil {
				return nil, pv, fmt.Errorf("identity emulator: store %s: alipay private key: %w", where, err)
			}
			if old, ok := alipayApps[st.Alipay.AppID]; ok && !old.Equal(&key.PublicKey) {
				return nil, pv, fmt.Errorf("identity emulator: Alipay app_id %s has two different private keys (%s)", st.Alipay.AppID, where)
			}
			alipayApps[st.Alipay.AppID] = &key.PublicKey
		}
	}
	base := strings.TrimRight(publicURL, "/") + EmulatorPath
	sim := walletsim.New(walletsim.Config{
		PublicURL:        base,
		Apps:             apps,
		AlipayApps:       alipayApps,
		AlipayPrivateKey: pv.EmulatorAlipayKey,
		Logger:           log.With("component", "walletsim"),
	})
	pv.WeChatAuthorizeBase, pv.WeChatAPIBase = base, base
	pv.AlipayAuthorizeBase, pv.AlipayGatewayURL = base, base+"/gateway.do"
	return sim, pv, nil
}
