// Package e2e holds the end-to-end tests of the payer pages: headless
// Chromium (Debian's /usr/bin/chromium, driven by chromedp) against the
// whole service on one loopback server, with real Redis when reachable, the
// sandbox gateway, the wallet emulator and the WeixinJSBridge and
// AlipayJSBridge stand-ins injected the way the wallets' in-app browsers
// provide them. Screenshots of every page state go to $ARTIFACTS_DIR when
// it is set; without it only a failing test's picture is taken, into a
// temporary directory its log names. The tests skip when Chromium is absent.
package e2e
