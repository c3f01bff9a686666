// The console's counter screen (收款播报): payments of the merchant as
// they arrive, from /console/counter/events, and, when the switch is on,
// each announced aloud in Chinese through the browser's speech synthesis.
// Loaded only by that page; no inline code (the page's CSP).
(function () {
  "use strict";
  var main = document.querySelector('[data-page="console-counter"]');
  if (!main) return;
  var feed = document.getElementById("counter-feed");
  var empty = document.getElementById("counter-empty");
  var state = document.getElementById("counter-state");
  var toggle = document.getElementById("counter-speak");
  var canSpeak = "speechSynthesis" in window && "SpeechSynthesisUtterance" in window;
  var KEY = "counter-speak";

  if (!canSpeak) {
    toggle.disabled = true;
    document.getElementById("counter-nospeech").hidden = false;
  } else {
    try { toggle.checked = localStorage.getItem(KEY) === "1"; } catch (e) { /* private mode */ }
  }

  function say(text) {
    if (!canSpeak || !toggle.checked) return;
    var u = new SpeechSynthesisUtterance(text);
    u.lang = "zh-CN";
    window.speechSynthesis.speak(u);
  }

  toggle.addEventListener("change", function () {
    try { localStorage.setItem(KEY, toggle.checked ? "1" : "0"); } catch (e) { /* private mode */ }
    // Browsers speak only after a gesture: this change is one.
    if (toggle.checked) say(main.getAttribute("data-speech-on"));
  });

  function setState(name) {
    state.textContent = state.getAttribute("data-" + name);
    state.setAttribute("data-state", name);
  }

  var seen = {};
  function show(p) {
    if (seen[p.checkout_id]) return; // a reconnection may repeat one
    seen[p.checkout_id] = true;
    empty.hidden = true;
    var li = document.createElement("li");
    li.setAttribute("data-testid", "counter-payment");
    li.setAttribute("data-checkout-id", p.checkout_id);
    var left = document.createElement("span");
    var amount = document.createElement("span");
    amount.className = "counter-amount";
    amount.textContent = p.amount;
    left.appendChild(amount);
    var what = document.createElement("span");
    what.className = "counter-state";
    var wallet = (p.wallet && main.getAttribute("data-label-" + p.wallet)) || "";
    what.textContent = " " + wallet + (p.reference ? " · " + p.reference : "") +
      (p.test ? " · " + main.getAttribute("data-label-test") : "") +
      (p.late ? " · " + main.getAttribute("data-label-late") : "");
    left.appendChild(what);
    var time = document.createElement("span");
    time.className = "counter-state";
    time.textContent = p.time;
    li.appendChild(left);
    li.appendChild(time);
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > 200) feed.removeChild(feed.lastChild);
    say(p.speech);
  }

  // EventSource reconnects by itself after a dropped connection (sending
  // Last-Event-ID, so nothing is missed); after a refusal it gives up,
  // so the page opens a new one, waiting longer each time.
  var wait = 1000;
  var lastID = "";
  function connect() {
    setState("connecting");
    var es = new EventSource(main.getAttribute("data-stream"));
    es.addEventListener("open", function () { wait = 1000; setState("live"); });
    es.addEventListener("paid", function (ev) {
      lastID = ev.lastEventId || lastID;
      try { show(JSON.parse(ev.data)); } catch (e) { /* a bad line: skip it */ }
    });
    es.addEventListener("error", function () {
      setState("offline");
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        setTimeout(connect, wait);
        wait = Math.min(wait * 2, 30000);
      }
    });
  }
  connect();
}());
