// Package templates holds the payer pages as templ components, their view
// models, the amount formatting and the one message catalogue of every
// text a payer reads (zh-Hans by default, zh-Hant, en), the handlers'
// error pages and error messages included.
//
// Contract with the handlers (they build the views, the components render):
//
//	page := templates.Page{Lang: templates.Negotiate(c.GetHeader("Accept-Language"), c.Query("lang")), Nonce: nonce}
//	ctx := templ.WithNonce(c.Request.Context(), nonce)
//	templates.CheckoutPage(templates.CheckoutView{Page: page, ...}).Render(ctx, c.Writer)
//	templates.ResultPage(templates.ResultView{...})
//	templates.ErrorPage(templates.ErrorView{Page: page, Status: 404, Title: page.T("error.not_found.title"), Message: page.T("error.not_found.body")})
//
// The checkout page itself goes through a PageCache (NewPageCache,
// WriteCheckoutPage): the same markup as CheckoutPage(v).Render, without
// running the template again for a view already rendered.
//
// Handlers translate with Page.T or Translate and write each key out in
// full (the catalogue's test looks for them in the source).
//
// Components:
//
//	CheckoutPage(v CheckoutView) templ.Component // GET /c/:id
//	ResultPage(v ResultView) templ.Component     // GET /c/:id/result
//	ErrorPage(v ErrorView) templ.Component       // any payer-facing error
//
// The pages load one stylesheet and one script from the embedded package
// web/static (static.Path("app.css"), static.Path("app.js"), which name
// /static/<checksum>/app.css and /static/<checksum>/app.js), served by
// the handlers' route GET /static/:checksum/*file. No inline script, style
// or event handler is used, so the pages work under the CSP the handlers
// send with an HTML page (handlers' pageNonce; pageHeaders sends one that
// allows nothing with the JSON and stream answers):
//
//	default-src 'none'; script-src 'self' 'nonce-…'; style-src 'self' 'nonce-…';
//	img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self';
//	base-uri 'none'; frame-ancestors 'none'
//
// The nonce is also put on the script and link tags.
//
// The script reads its configuration from data-* attributes on <main> and
// talks to the server with (the handlers fill the URLs with the routes
// under /c/:id):
//
//	POST PayURL (/c/:id/pay), header X-CSRF-Token: CSRFToken,
//	  body {"wallet":"wechat|alipay","scenario":"jsapi|jump|qr"}
//	  → {"kind":"wechat_jsapi"|"alipay_jsapi"|"redirect"|"qr",
//	     "wechat":{"appId","timeStamp","nonceStr","package","signType","paySign"},
//	     "trade_no":…, "redirect_url":…, "qr_image_url":…, "result_url":…}
//	  or {"error":{"code","message"}} with a 4xx/5xx status.
//	GET EventsURL (/c/:id/events): server-sent events, each data line JSON
//	  {"status":…,"late":…,"amount":…,"paid_at":…}
//	GET StatusURL (/c/:id/status): the same JSON, the fallback when EventsURL fails
//	POST CheckURL (/c/:id/check), header X-CSRF-Token: ask the server to
//	  query the gateway now (answers the same JSON as StatusURL).
//
// Set CheckoutView.Now to the handlers' clock so the countdown shows the
// service's remaining time (the payer's clock may be wrong).
//
// Status values are the checkout's (open, pending, paid, partially_refunded,
// refunded, expired, cancelled); the result page also accepts "failed".
package templates
