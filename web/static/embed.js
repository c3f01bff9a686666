/* Wallet checkout button for a merchant's own site. Include it from the
   checkout service, after or around your links:
     <a href="(the checkout URL, /c/ck_...)" data-wallet-checkout>Pay ¥12.00</a>
     <script src="(the service)/embed.js" async></script>
   or let it make the button: <script src=".../embed.js" data-checkout="ck_..." async></script>
   On a desktop a click opens the checkout's QR code in an overlay (a frame of
   /c/{id}/embed); on a phone the link is followed, as without this script.
   When the checkout is paid (or ends) the page receives a "walletcheckout"
   DOM event on the link, detail {type, event, checkout, status}. The service
   sends it only to an origin among the merchant's redirect hosts.
   No dependencies, no cookies, nothing else loaded. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.URL || !window.postMessage) return;
  var base;
  try { base = new URL(script.src).origin; } catch (e) { return; }
  var ID = /^\/c\/([A-Za-z0-9_]{1,64})\/?$/;
  var lang = script.getAttribute("data-lang") || "";

  function phone() {
    var ua = navigator.userAgent || "";
    if (/Mobi|Android|iPhone|iPad|iPod|MicroMessenger|AlipayClient|HarmonyOS/i.test(ua)) return true;
    var mm = window.matchMedia;
    return !!(mm && mm("(pointer: coarse)").matches && !mm("(pointer: fine)").matches);
  }

  function checkoutOf(a) {
    var u;
    try { u = new URL(a.href, location.href); } catch (e) { return ""; }
    if (u.origin !== base) return "";
    var m = ID.exec(u.pathname);
    return m ? m[1] : "";
  }

  function css(el, rules) { for (var k in rules) el.style[k] = rules[k]; return el; }

  function style(a) {
    if (a.getAttribute("data-wallet-checkout") === "plain") return;
    css(a, {
      display: "inline-block", padding: "10px 22px", borderRadius: "8px", background: "#07c160",
      color: "#fff", font: "600 16px/1.4 -apple-system,BlinkMacSystemFont,'PingFang SC','Microsoft YaHei',sans-serif",
      textDecoration: "none", cursor: "pointer"
    });
  }

  var open = null;
  function close() {
    if (!open) return;
    open.overlay.parentNode.removeChild(open.overlay);
    document.removeEventListener("keydown", open.onKey);
    open = null;
  }

  function overlay(a, id) {
    close();
    var q = "?origin=" + encodeURIComponent(location.origin) + (lang ? "&lang=" + encodeURIComponent(lang) : "");
    var shade = css(document.createElement("div"), {
      position: "fixed", inset: "0", zIndex: "2147483646", background: "rgba(0,0,0,.55)",
      display: "flex", alignItems: "center", justifyContent: "center"
    });
    shade.setAttribute("data-wallet-checkout-overlay", id);
    var box = css(document.createElement("div"), {
      position: "relative", width: "380px", maxWidth: "94vw", height: "560px", maxHeight: "94vh",
      background: "#fff", borderRadius: "12px", overflow: "hidden", boxShadow: "0 8px 30px rgba(0,0,0,.3)"
    });
    var frame = css(document.createElement("iframe"), { width: "100%", height: "100%", border: "0", display: "block" });
    frame.src = base + "/c/" + encodeURIComponent(id) + "/embed" + q;
    frame.title = a.textContent || "checkout";
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin");
    frame.setAttribute("referrerpolicy", "origin");
    var x = css(document.createElement("button"), {
      position: "absolute", top: "6px", right: "8px", border: "0", background: "transparent",
      font: "24px/1 sans-serif", color: "#646a73", cursor: "pointer"
    });
    x.type = "button";
    x.setAttribute("aria-label", "Close");
    x.textContent = "\u00d7";
    x.addEventListener("click", close);
    shade.addEventListener("click", function (e) { if (e.target === shade) close(); });
    box.appendChild(frame);
    box.appendChild(x);
    shade.appendChild(box);
    document.body.appendChild(shade);
    function onKey(e) { if (e.key === "Escape") close(); }
    document.addEventListener("keydown", onKey);
    open = { overlay: shade, frame: frame, link: a, id: id, onKey: onKey };
  }

  // Only the service's frame of the open checkout is listened to.
  window.addEventListener("message", function (e) {
    if (!open || e.origin !== base || e.source !== open.frame.contentWindow) return;
    var d = e.data;
    if (!d || d.type !== "wallet-checkout" || d.checkout !== open.id) return;
    var ev;
    try {
      ev = new CustomEvent("walletcheckout", { bubbles: true, detail: d });
    } catch (err) {
      ev = document.createEvent("CustomEvent");
      ev.initCustomEvent("walletcheckout", true, false, d);
    }
    open.link.dispatchEvent(ev);
  });

  function enhance(a) {
    if (a.getAttribute("data-wallet-checkout-ready")) return;
    var id = checkoutOf(a);
    if (!id) return;
    a.setAttribute("data-wallet-checkout-ready", "1");
    style(a);
    a.addEventListener("click", function (e) {
      if (phone() || e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;
      e.preventDefault();
      overlay(a, id);
    });
  }

  function init() {
    var made = script.getAttribute("data-checkout");
    if (made && /^[A-Za-z0-9_]{1,64}$/.test(made)) {
      var a = document.createElement("a");
      a.href = base + "/c/" + made;
      a.setAttribute("data-wallet-checkout", "");
      a.textContent = script.getAttribute("data-label") || "\u5fae\u4fe1 / \u652f\u4ed8\u5b9d \u652f\u4ed8";
      script.parentNode.insertBefore(a, script.nextSibling);
    }
    var links = document.querySelectorAll("a[data-wallet-checkout]");
    for (var i = 0; i < links.length; i++) enhance(links[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
