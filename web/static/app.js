/* Payer pages. No framework, no third-party requests, no inline code: the
   configuration comes from data-* attributes on <main id="app">. */
(function () {
  "use strict";

  var app = document.getElementById("app");
  if (!app) return;
  var cfg = app.dataset;
  // Which statuses count as paid is Go's to say (checkout.Status.Paid): the
  // page renders the set in data-paid-statuses and the script keeps none of
  // its own. A final status ends the wait: paid, or one that cannot become
  // paid on this page.
  var PAID = statusSet(cfg.paidStatuses);
  var ENDED = { expired: 1, cancelled: 1, failed: 1 };
  function statusSet(list) {
    var set = {};
    (list || "").split(" ").forEach(function (s) { if (s) set[s] = true; });
    return set;
  }
  function isPaid(status) { return PAID[status] === true; }
  function isFinal(status) { return isPaid(status) || ENDED[status] === 1; }

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }

  function message(text, info) {
    var el = $("[data-testid=message]");
    if (!el) return;
    el.textContent = text || "";
    el.className = info ? "message info" : "message";
    el.hidden = !text;
  }

  // request sends JSON and resolves with {status, body}; a network failure
  // rejects. The CSRF header goes with every POST.
  function request(method, url, body) {
    var opts = { method: method, credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (method === "POST") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = cfg.csrf || "";
      opts.body = JSON.stringify(body || {});
    }
    return fetch(url, opts).then(function (r) {
      return r.json().then(
        function (j) { return { status: r.status, body: j || {} }; },
        function () { return { status: r.status, body: {} }; }
      );
    });
  }

  function go(url) { if (url) window.location.href = url; }

  /* ---------- live status: SSE, polling fallback, one request at a time ---------- */

  // watch calls onStatus with every status seen until the first final one,
  // then stops for good (latch). It prefers the event stream and polls the
  // JSON endpoint while the stream is down. When the server says its
  // streams are full (a "poll" event: {poll_ms}), it closes the stream and
  // polls every poll_ms instead, for the rest of the page's life.
  function watch(onStatus) {
    var done = false, inflight = false, es = null, timer = null;
    function handle(s) {
      if (done || !s || !s.status) return;
      if (isFinal(s.status)) { done = true; stop(); }
      onStatus(s);
    }
    function poll() {
      if (done || inflight || !cfg.statusUrl) return;
      inflight = true;
      request("GET", cfg.statusUrl).then(function (r) {
        inflight = false;
        if (r.status === 200) handle(r.body);
      }, function () { inflight = false; });
    }
    function stop() {
      if (es) { es.close(); es = null; }
      if (timer) { clearInterval(timer); timer = null; }
    }
    function streamUp() { return es && es.readyState === 1; }
    if (window.EventSource && cfg.eventsUrl) {
      es = new EventSource(cfg.eventsUrl);
      es.onmessage = function (e) {
        try { handle(JSON.parse(e.data)); } catch (err) { /* ignore a malformed event */ }
      };
      es.addEventListener("status", es.onmessage);
      es.addEventListener("poll", function (e) {
        var h = {};
        try { h = JSON.parse(e.data) || {}; } catch (err) { /* keep the default */ }
        var ms = parseInt(h.poll_ms, 10);
        if (es) { es.close(); es = null; }
        if (done) return;
        every(ms >= 500 ? ms : 5000);
        poll();
      });
      es.onerror = function () { if (!done) poll(); };
    }
    // Poll often while the stream is down, rarely while it is up, so a lost
    // event never leaves the page stuck.
    var ticks = 0;
    function every(ms) {
      if (timer) clearInterval(timer);
      timer = setInterval(function () {
        ticks++;
        if (!streamUp() || ticks % 8 === 0) poll();
      }, ms);
    }
    every(2000);
    if (!es) poll();
    return {
      poll: poll,
      handle: handle,
      done: function () { return done; },
      stop: function () { done = true; stop(); }
    };
  }

  // recheck asks for the current status once (pageshow, focus) and calls
  // then(status) with it.
  function recheck(then) {
    if (!cfg.statusUrl) return;
    request("GET", cfg.statusUrl).then(function (r) {
      if (r.status === 200 && r.body && r.body.status) then(r.body);
    }, function () {});
  }

  /* ---------- checkout page ---------- */

  function checkoutPage() {
    var busy = false, watcher = null, expired = false;
    var resultURL = cfg.resultUrl;

    function toResult(url) { window.location.replace(url || resultURL); }

    function onStatus(s) {
      if (isFinal(s.status)) toResult();
    }

    // The back button (bfcache) or a return from the wallet app must never
    // show a stale unpaid page.
    window.addEventListener("pageshow", function (e) {
      if (e.persisted) {
        busy = false;
        $all("[data-pay]").forEach(function (b) { setBusy(b, false); });
        recheck(onStatus);
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") recheck(onStatus);
    });

    countdown();

    function setBusy(btn, on) {
      if (!btn) return;
      btn.disabled = on || expired;
      btn.setAttribute("aria-busy", on ? "true" : "false");
    }

    function failed(btn, text, info) {
      busy = false;
      setBusy(btn, false);
      message(text, info);
    }

    // afterError looks at the checkout before blaming the payer: a paid or
    // expired checkout goes to the result page.
    function afterError(btn, text) {
      recheck(function (s) { if (isFinal(s.status)) toResult(); });
      failed(btn, text);
    }

    function pay(btn) {
      if (busy || expired) return;
      busy = true;
      setBusy(btn, true);
      message(cfg.msgStarting, true);
      var wallet = btn.dataset.wallet, scenario = btn.dataset.scenario;
      // Known to be a mini-program's web-view already: no order to create.
      if (wallet === "wechat" && scenario === "jsapi" && window.__wxjs_environment === "miniprogram" && toMiniProgram()) {
        return failed(btn, cfg.msgMiniprogram, true);
      }
      request("POST", cfg.payUrl, { wallet: wallet, scenario: scenario }).then(function (r) {
        var b = r.body || {};
        if (r.status >= 400 || b.error) {
          afterError(btn, (b.error && b.error.message) || cfg.msgError);
          return;
        }
        var next = b.result_url || resultURL;
        switch (b.kind) {
          case "redirect":
            if (!b.redirect_url) return failed(btn, cfg.msgError);
            go(b.redirect_url); // stays busy: the page is leaving
            return;
          case "wechat_jsapi":
            return wechatPay(b.wechat, btn, next);
          case "alipay_jsapi":
            return alipayPay(b.trade_no, btn, next);
          default:
            failed(btn, cfg.msgError);
        }
      }, function () { failed(btn, cfg.msgNetwork); });
    }

    // bridge runs fn once the wallet's JS bridge exists, waiting for its
    // ready event (the bridge is injected after the page starts), and gives
    // up after a while.
    function bridge(name, readyEvent, fn, fail) {
      if (window[name]) return fn(window[name]);
      var settled = false;
      function ready() {
        if (settled || !window[name]) return;
        settled = true;
        document.removeEventListener(readyEvent, ready);
        fn(window[name]);
      }
      document.addEventListener(readyEvent, ready, false);
      setTimeout(function () {
        if (settled) return;
        if (window[name]) return ready();
        settled = true;
        document.removeEventListener(readyEvent, ready);
        fail();
      }, 10000);
    }

    function wechatPay(params, btn, next) {
      if (!params) return failed(btn, cfg.msgError);
      var p = {
        appId: params.appId, timeStamp: params.timeStamp, nonceStr: params.nonceStr,
        "package": params["package"], signType: params.signType, paySign: params.paySign
      };
      bridge("WeixinJSBridge", "WeixinJSBridgeReady", function (jsb) {
        // A mini-program's web-view whose User-Agent did not say so: WeChat
        // refuses getBrandWCPayRequest there, so hand off to the
        // mini-program instead.
        if (window.__wxjs_environment === "miniprogram") {
          toMiniProgram();
          return failed(btn, cfg.msgMiniprogram, true);
        }
        jsb.invoke("getBrandWCPayRequest", p, function (res) {
          var m = (res && res.err_msg) || "";
          if (m === "get_brand_wcpay_request:ok") {
            message(cfg.msgWaiting, true);
            toResult(walletSaidOK(next));
          } else if (/:cancel$/.test(m)) {
            failed(btn, cfg.msgCancelled, true);
          } else {
            afterError(btn, cfg.msgFailed);
          }
        });
      }, function () { failed(btn, cfg.msgBridge); });
    }

    // walletSaidOK marks the way to the result page after the wallet
    // reported success: that page then never offers a bare "pay again",
    // only what the server allows (payments.PayAgainAfterWalletOK).
    function walletSaidOK(url) {
      return url + (url.indexOf("?") < 0 ? "?" : "&") + "wallet=ok";
    }

    function alipayPay(tradeNO, btn, next) {
      if (!tradeNO) return failed(btn, cfg.msgError);
      bridge("AlipayJSBridge", "AlipayJSBridgeReady", function (ajb) {
        ajb.call("tradePay", { tradeNO: tradeNO }, function (res) {
          var code = String((res && res.resultCode) || "");
          if (code === "9000" || code === "8000" || code === "6004") {
            // 8000 and 6004 mean "processing / unknown": the result page waits.
            message(cfg.msgWaiting, true);
            toResult(walletSaidOK(next));
          } else if (code === "6001") {
            failed(btn, cfg.msgCancelled, true);
          } else {
            afterError(btn, cfg.msgFailed);
          }
        });
      }, function () { failed(btn, cfg.msgBridge); });
    }

    $all("[data-pay]").forEach(function (btn) {
      btn.addEventListener("click", function () { pay(btn); });
    });

    if (cfg.action === "qr" || cfg.action === "open_in_wallet") qrPage();
    if (cfg.action === "miniprogram_handoff") miniProgram();
    $all("[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () { copy(b); });
    });
    // The Alipay deep link: when the app did not open (the page is still
    // in front after a while), say what else to do.
    $all("[data-open-app]").forEach(function (a) {
      a.addEventListener("click", function () {
        setTimeout(function () {
          if (document.visibilityState === "visible") message(cfg.msgOpenFallback, true);
        }, 2500);
      });
    });

    function qrPage() {
      var loaded = {}, live = $("[data-testid=live-status]");
      function load(w) {
        if (loaded[w] || expired) return;
        loaded[w] = true;
        var fig = $("[data-qr=" + w + "]");
        var img = $("img", fig), wait = $(".qr-loading", fig), retry = $("[data-retry]", fig);
        wait.hidden = false;
        retry.hidden = true;
        function fail() {
          loaded[w] = false;
          wait.hidden = true;
          retry.hidden = false;
        }
        request("POST", cfg.payUrl, { wallet: w, scenario: "qr" }).then(function (r) {
          var b = r.body || {};
          if (r.status >= 400 || b.error || !b.qr_image_url) {
            recheck(onStatus);
            return fail();
          }
          img.onload = function () { wait.hidden = true; img.hidden = false; };
          img.onerror = fail;
          img.src = b.qr_image_url;
        }, fail);
      }
      function select(w) {
        $all("[data-tab]").forEach(function (t) {
          var on = t.dataset.tab === w;
          t.setAttribute("aria-selected", on ? "true" : "false");
          t.tabIndex = on ? 0 : -1;
        });
        $all("[data-qr]").forEach(function (f) { f.hidden = f.dataset.qr !== w; });
        load(w);
      }
      var tabs = $all("[data-tab]");
      tabs.forEach(function (t, i) {
        t.addEventListener("click", function () { select(t.dataset.tab); });
        // The tab pattern: arrow keys move between the wallets.
        t.addEventListener("keydown", function (e) {
          var d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? tabs.length - 1 : 0;
          if (!d) return;
          e.preventDefault();
          var n = tabs[(i + d) % tabs.length];
          n.focus();
          select(n.dataset.tab);
        });
      });
      $all("[data-retry]").forEach(function (b) {
        b.addEventListener("click", function () { load(b.dataset.retry); });
      });
      var first = $("[data-qr]"), fold = $("[data-testid=other-device]");
      // Folded codes (a phone's browser) make no gateway order until the
      // payer unfolds them.
      if (first && fold && !fold.open) {
        fold.addEventListener("toggle", function () {
          if (fold.open) load(($("[data-tab][aria-selected=true]") || first).dataset.tab || first.dataset.qr);
        });
      } else if (first) load(first.dataset.qr);
      watcher = watch(function (s) {
        if (isPaid(s.status)) {
          // At once: no code to scan, no time left, nothing to cancel.
          app.dataset.view = "paid";
          live.textContent = cfg.msgPaid;
          live.className = "live ok";
        }
        if (isFinal(s.status)) setTimeout(function () { toResult(); }, 600);
      });
    }

    // toMiniProgram asks the enclosing mini-program to open its pay page.
    // The page loads no JS-SDK (no third-party scripts), so wx.miniProgram
    // exists only if the merchant injected it; the web-view's own
    // WeixinJSBridge takes the same call the SDK makes.
    function toMiniProgram() {
      var mp = window.wx && window.wx.miniProgram;
      if (mp && mp.navigateTo) {
        mp.navigateTo({ url: cfg.mpPath });
        return true;
      }
      var jsb = window.WeixinJSBridge;
      if (cfg.mpPath && jsb && jsb.invoke) {
        jsb.invoke("invokeMiniProgramAPI", { name: "navigateTo", arg: { url: cfg.mpPath } }, function () {});
        return true;
      }
      return false;
    }

    function miniProgram() {
      var tried = false;
      function handoff(byHand) {
        if (byHand || window.__wxjs_environment === "miniprogram") {
          if (toMiniProgram()) {
            tried = true;
            return;
          }
        }
        if (byHand) message(cfg.msgMiniprogram, true);
      }
      handoff(false);
      document.addEventListener("WeixinJSBridgeReady", function () { if (!tried) handoff(false); }, false);
      var b = $("[data-miniprogram]");
      if (b) b.addEventListener("click", function () { handoff(true); });
    }

    function copy(btn) {
      var input = $("[data-testid=page-url]");
      if (!input) return;
      function done() { message(cfg.msgCopied, true); }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        try { if (document.execCommand("copy")) done(); } catch (e) { /* leave it selected */ }
      }
    }

    function countdown() {
      var el = $("[data-testid=countdown]"), line = $("[data-testid=countdown-line]");
      var left = parseInt(cfg.expiresIn, 10);
      if (!el || isNaN(left)) return;
      var end = Date.now() + left * 1000;
      function pad(n) { return n < 10 ? "0" + n : "" + n; }
      function tick() {
        var s = Math.max(0, Math.round((end - Date.now()) / 1000));
        var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
        el.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
        // templates.countdownTone: hidden beyond an hour, red from two minutes.
        line.setAttribute("data-tone", s > 3600 ? "far" : s <= 120 ? "urgent" : "");
        if (s > 0) return;
        clearInterval(t);
        expired = true;
        $all("[data-pay]").forEach(function (b) { b.disabled = true; });
        message(cfg.msgExpired);
        // The server's expiry decides; ask it, and follow when it agrees.
        recheck(onStatus);
        setTimeout(function () { recheck(onStatus); }, 3000);
      }
      var t = setInterval(tick, 1000);
      tick();
    }
  }

  /* ---------- result page ---------- */

  function resultPage() {
    // The panel of each unpaid status (templates.ResultState).
    var views = { pending: "pending", open: "unpaid", failed: "failed", expired: "expired", cancelled: "cancelled" };
    var REFUNDED = statusSet(cfg.refundedStatuses);
    var checking = false, checks = 0, timer = null, watcher = null;
    var walletOK = cfg.walletOk || "";
    var delay = parseInt(cfg.checkAfter, 10) || 4000;

    function show(s) {
      var v = isPaid(s.status) ? "paid" : views[s.status] || "pending";
      app.dataset.view = v;
      app.dataset.status = s.status;
      if (isPaid(s.status)) { paidTime(s.paid_at); paidMethod(s.method); }
      var ref = $("[data-testid=result-refunded]");
      if (ref) ref.hidden = REFUNDED[s.status] !== true;
      if (isFinal(s.status)) {
        if (timer) { clearTimeout(timer); timer = null; }
        if (watcher) watcher.stop();
        watcher = null;
      }
    }

    // check asks the server to query the gateway, at most one at a time,
    // backing off: the notify normally arrives first.
    function check() {
      timer = null;
      if (checking || !cfg.checkUrl || isFinal(app.dataset.status)) return;
      checking = true;
      checks++;
      request("POST", cfg.checkUrl, walletOK ? { wallet_ok: walletOK } : {}).then(function (r) {
        checking = false;
        if (r.status === 200 && r.body && r.body.status && watcher) watcher.handle(r.body);
        after(r.status === 200 && r.body ? r.body : {});
      }, function () { checking = false; after({}); });
    }
    function after(b) {
      app.dataset.checks = checks;
      if (isFinal(app.dataset.status)) return;
      if (walletOK) return afterWalletOK(b);
      if (checks >= 1) { var slow = $("[data-testid=result-slow]"); if (slow) slow.hidden = false; }
      if (checks < 6) timer = setTimeout(check, delay * Math.pow(2, checks));
    }

    // afterWalletOK: the wallet said the payment succeeded, so only the
    // server's word may invite a second payment, worded for a payer who
    // has not paid; until then the page keeps checking, at the latest when
    // the server says the offer could be due.
    function afterWalletOK(b) {
      if (b.pay_again === "if_unpaid") {
        var offer = $("[data-testid=result-unconfirmed]");
        if (offer) offer.hidden = false;
        return;
      }
      var wait = delay * Math.pow(2, checks), due = parseInt(b.pay_again_in, 10);
      if (due > 0) wait = Math.min(wait, due + 500);
      if (checks < 10) timer = setTimeout(check, wait);
    }

    function start() {
      if (isFinal(app.dataset.status) || watcher) return;
      watcher = watch(show);
      if (app.dataset.status === "pending") timer = setTimeout(check, delay);
    }

    window.addEventListener("pageshow", function (e) {
      if (e.persisted) recheck(function (s) { if (!isFinal(app.dataset.status)) show(s); start(); });
    });
    start();
  }

  // paidTime writes when the checkout was paid (RFC 3339 from the status)
  // into a paid panel rendered before it was, in UTC+8 as the server does.
  function paidTime(at) {
    var el = $("[data-testid=paid-time]"), t = Date.parse(at || "");
    if (!el || el.textContent || isNaN(t)) return;
    var d = new Date(t + 8 * 3600 * 1000);
    function p2(n) { return n < 10 ? "0" + n : "" + n; }
    el.textContent = d.getUTCFullYear() + "-" + p2(d.getUTCMonth() + 1) + "-" + p2(d.getUTCDate()) + " " +
      p2(d.getUTCHours()) + ":" + p2(d.getUTCMinutes()) + ":" + p2(d.getUTCSeconds()) + " (" + el.dataset.zone + ")";
    el.parentNode.hidden = false;
  }

  // paidMethod names the wallet that paid (wechat, alipay, from the
  // status) in a paid panel rendered before it was.
  function paidMethod(m) {
    var el = $("[data-testid=paid-method]"), name = el && m && el.getAttribute("data-name-" + m);
    if (!name || el.textContent.trim()) return;
    el.textContent = name;
    el.parentNode.hidden = false;
  }

  // "Done" on a paid page without a success URL closes the wallet's in-app
  // browser; elsewhere it tries to close the tab and, if the browser keeps
  // it, says the page can be closed.
  $all("[data-done]").forEach(function (b) {
    b.addEventListener("click", function () {
      var wx = window.WeixinJSBridge, ali = window.AlipayJSBridge;
      if (wx && wx.call) wx.call("closeWindow");
      else if (ali && ali.call) ali.call("popWindow");
      else window.close();
      setTimeout(function () {
        var hint = $("[data-testid=done-hint]", b.parentNode);
        if (hint) hint.hidden = false;
      }, 400);
    });
  });

  /* ---------- framable QR view (/c/{id}/embed) ---------- */

  // embedPage follows the checkout's status and, at the first final one,
  // tells the framing page through postMessage: only to the origin the
  // server checked against the merchant's redirect hosts
  // (data-parent-origin), never to "*"; without one it tells nobody.
  function embedPage() {
    var told = false;
    function tell(s) {
      var origin = cfg.parentOrigin;
      if (told || !origin || window.parent === window) return;
      told = true;
      window.parent.postMessage({
        type: "wallet-checkout",
        event: isPaid(s.status) ? "paid" : s.status,
        checkout: cfg.id,
        status: s.status
      }, origin);
    }
    function show(s) {
      app.dataset.status = s.status;
      if (isPaid(s.status)) app.dataset.view = "paid";
      else if (isFinal(s.status)) app.dataset.view = "ended";
      if (isFinal(s.status)) tell(s);
    }
    if (isFinal(cfg.status)) show({ status: cfg.status });
    else watch(show);
  }

  if (cfg.page === "checkout") checkoutPage();
  else if (cfg.page === "result") resultPage();
  else if (cfg.page === "embed") embedPage();
})();
