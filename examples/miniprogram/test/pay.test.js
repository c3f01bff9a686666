// The mini-program's contract with the service, under Node's test runner
// against a stubbed wx (test/wx.js) and the real service: started by
// miniprogram_test.go (go test ./examples/miniprogram), which passes
//   CHECKOUT_SERVICE      the service's base URL (API, emulator, sandbox)
//   CHECKOUT_UNREACHABLE  a URL where nothing listens
//   CHECKOUT_MERCHANT     the stand-in of the merchant's server
//   CHECKOUT_MINI_APPID   the store's mini-program appid
//   CHECKOUT_CASES        {"ok": {"id", "secret"}, …, "handoff": {"id", "path"}}
// and checks afterwards, through the API, what each case left behind.

'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const path = require('node:path')

const { payCheckout, PAYMENT_KEYS, RESULTS } = require('../lib/checkout.js')
const { makeWx } = require('./wx.js')

const env = process.env
const service = env.CHECKOUT_SERVICE
const cases = service ? JSON.parse(env.CHECKOUT_CASES) : {}
const skip = service ? false : 'run through `go test ./examples/miniprogram`, which starts the service'

function wxFor (mode, extra) {
  return makeWx(Object.assign({ serviceBase: service, appId: env.CHECKOUT_MINI_APPID, payer: 'mp-' + mode, mode }, extra))
}

// paid asserts requestPayment got exactly the service's answer minus appId.
function assertExactParams (wx) {
  assert.equal(wx.paymentAnswers.length, 1, 'one call to the payment endpoint')
  const answer = wx.paymentAnswers[0]
  assert.equal(answer.status, 200, JSON.stringify(answer.body))
  assert.equal(answer.body.appId, env.CHECKOUT_MINI_APPID, 'the order is under the mini-program appid')
  const expected = {}
  for (const k of PAYMENT_KEYS) expected[k] = answer.body[k]
  assert.deepEqual(Object.keys(answer.body).sort(), [...PAYMENT_KEYS, 'appId'].sort(), 'the service answers the six parameters, nothing else')
  assert.equal(wx.paymentCalls.length, 1)
  assert.deepEqual(wx.paymentCalls[0], expected)
}

test('ok: the sheet pays with exactly the service\'s parameters', { skip }, async () => {
  const c = cases.ok
  const wx = wxFor('ok')
  const r = await payCheckout({ apiBase: service, checkoutId: c.id, clientSecret: c.secret, wx })
  assert.equal(r.outcome, 'ok', JSON.stringify(r))
  assert.equal(r.title, RESULTS.ok.title)
  assert.equal(r.retry, false)
  assertExactParams(wx)
  // The sandbox checked paySign against the parameters: a changed one is 403.
  assert.equal(wx.sandboxAnswers[0].status, 200)
})

test('cancel: the payer closes the sheet and may pay again', { skip }, async () => {
  const c = cases.cancel
  const wx = wxFor('cancel')
  const r = await payCheckout({ apiBase: service, checkoutId: c.id, clientSecret: c.secret, wx })
  assert.equal(r.outcome, 'cancel', JSON.stringify(r))
  assert.equal(r.retry, true)
  assertExactParams(wx)
  assert.equal(wx.sandboxAnswers[0].body.err_msg, 'get_brand_wcpay_request:cancel')
})

test('fail: WeChat refuses and the payer may try again', { skip }, async () => {
  const c = cases.fail
  const wx = wxFor('fail')
  const r = await payCheckout({ apiBase: service, checkoutId: c.id, clientSecret: c.secret, wx })
  assert.equal(r.outcome, 'fail', JSON.stringify(r))
  assert.equal(r.retry, true)
  assert.match(r.detail, /余额不足/)
  assertExactParams(wx)
})

test('expired checkout: checkout_expired, no payment sheet', { skip }, async () => {
  const c = cases.expired
  const wx = wxFor('ok')
  const r = await payCheckout({ apiBase: service, checkoutId: c.id, clientSecret: c.secret, wx })
  assert.equal(r.outcome, 'expired', JSON.stringify(r))
  assert.equal(r.code, 'checkout_expired')
  assert.equal(r.status, 409)
  assert.equal(r.retry, false)
  assert.equal(wx.paymentCalls.length, 0)
})

test('a refused wx.login code is replaced by a fresh one, once', { skip }, async () => {
  const c = cases.relogin
  const wx = wxFor('cancel', { codes: ['made-up-code'] })
  const r = await payCheckout({ apiBase: service, checkoutId: c.id, clientSecret: c.secret, wx })
  assert.equal(r.outcome, 'cancel', JSON.stringify(r))
  assert.equal(wx.logins, 2)
  // Two refused codes in a row: the library gives up with the code.
  const wx2 = wxFor('ok', { codes: ['made-up-1', 'made-up-2'] })
  const r2 = await payCheckout({ apiBase: service, checkoutId: c.id, clientSecret: c.secret, wx: wx2 })
  assert.equal(r2.outcome, 'error', JSON.stringify(r2))
  assert.equal(r2.code, 'invalid_code')
  assert.equal(wx2.paymentCalls.length, 0)
})

test('a wrong client secret is an error, never a payment', { skip }, async () => {
  const c = cases.fail
  const wx = wxFor('ok')
  const r = await payCheckout({ apiBase: service, checkoutId: c.id, clientSecret: cases.ok.secret, wx })
  assert.equal(r.outcome, 'error')
  assert.equal(r.code, 'invalid_client_secret')
  assert.equal(r.status, 401)
  assert.equal(wx.paymentCalls.length, 0)
})

test('network error: the service is unreachable', { skip }, async () => {
  const c = cases.fail
  const wx = wxFor('ok')
  const r = await payCheckout({ apiBase: env.CHECKOUT_UNREACHABLE, checkoutId: c.id, clientSecret: c.secret, wx })
  assert.equal(r.outcome, 'network_error', JSON.stringify(r))
  assert.equal(r.retry, true)
  assert.equal(wx.paymentCalls.length, 0)
})

test('wx.login failing (WeChat unreachable) is a network error, and nothing is asked', { skip }, async () => {
  const wx = wxFor('ok')
  let requests = 0
  wx.login = ({ fail }) => fail({ errMsg: 'login:fail timeout' })
  const request = wx.request
  wx.request = (args) => { requests++; request(args) }
  const r = await payCheckout({ apiBase: service, checkoutId: cases.fail.id, clientSecret: cases.fail.secret, wx })
  assert.equal(r.outcome, 'network_error', JSON.stringify(r))
  assert.equal(r.code, 'login_failed')
  assert.equal(requests, 0)
  assert.equal(wx.paymentCalls.length, 0)
})

test('a garbage answer (a proxy\'s HTML page) is a network error, not a payment', { skip }, async (t) => {
  const srv = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>portal</html>') })
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => srv.close())
  const wx = wxFor('ok')
  const r = await payCheckout({ apiBase: 'http://127.0.0.1:' + srv.address().port, checkoutId: cases.fail.id, clientSecret: cases.fail.secret, wx })
  assert.equal(r.outcome, 'network_error', JSON.stringify(r))
  assert.equal(wx.paymentCalls.length, 0)
})

// The page the hosted checkout's web-view hands the payer to: the path the
// hosted page itself emitted (data-mp-path), loaded as WeChat would.
test('the web-view hand-off page pays the checkout it is given', { skip }, async () => {
  const c = cases.handoff
  const url = new URL(c.path, 'https://mini.invalid')
  assert.equal(url.pathname, '/pages/pay/pay')
  const pagePath = path.join(__dirname, '..', url.pathname.slice(1) + '.js')

  const config = require('../lib/config.js')
  config.apiBase = service
  config.merchantBase = env.CHECKOUT_MERCHANT
  const wx = wxFor('ok')
  globalThis.wx = wx
  let def
  globalThis.Page = (d) => { def = d }
  require(pagePath)
  const load = async (query) => {
    const page = Object.assign({}, def, { data: Object.assign({}, def.data) })
    page.setData = (d) => Object.assign(page.data, d)
    await page.onLoad(query)
    return page
  }

  const page = await load(Object.fromEntries(url.searchParams))
  assert.equal(page.data.checkoutId, c.id)
  assert.equal(page.data.state, 'ok', JSON.stringify(page.data))
  assert.equal(page.data.title, RESULTS.ok.title)
  assert.equal(wx.paymentCalls.length, 1)

  // Opened without a checkout id: a clear error, no call at all.
  const bare = await load({})
  assert.equal(bare.data.state, 'error')
  assert.equal(wx.paymentAnswers.length, 1)

  // The merchant's server does not know the checkout: nothing to pay with.
  const unknown = await load({ checkout_id: 'co_unknown00000000000000000000' })
  assert.equal(unknown.data.state, 'network_error')
  assert.equal(unknown.data.retry, true)
  assert.equal(wx.paymentAnswers.length, 1)
})
