// Paying a checkout from a WeChat mini-program: wx.login, then the
// service's POST /v1/checkouts/{id}/wechat-mini-program-payments with the
// checkout's client secret, then wx.requestPayment with exactly the
// parameters the service returned. Plain CommonJS, as mini-programs load
// it; no dependencies.
//
// payCheckout never throws: it resolves to one result per outcome, which
// the page shows as it is (see RESULTS). Only the service's confirmation
// (your server asks GET /v1/checkouts/{id}, or receives checkout.paid)
// makes an order paid: "ok" means WeChat's sheet said the payment went
// through, not that the service has confirmed it yet.

'use strict'

// The outcomes, each with what the payer is told and whether paying again
// makes sense.
const RESULTS = {
  // The payment sheet said paid. Wait for your server's confirmation.
  ok: { title: '支付成功', message: '正在确认支付结果，请稍候。', retry: false },
  // The payer closed the sheet: nothing was paid, the order stays open.
  cancel: { title: '已取消支付', message: '您已取消支付，可以重新支付。', retry: true },
  // WeChat refused (no balance, risk control, …): nothing was paid.
  fail: { title: '支付失败', message: '支付未完成，请重试或更换支付方式。', retry: true },
  // The checkout ran out of time (checkout_expired): create a new one.
  expired: { title: '订单已过期', message: '订单已超时关闭，请返回重新下单。', retry: false },
  // The checkout was paid before (checkout_paid).
  already_paid: { title: '订单已支付', message: '该订单已支付，无需重复支付。', retry: false },
  // The merchant cancelled the checkout (checkout_cancelled).
  cancelled: { title: '订单已取消', message: '该订单已取消，请返回重新下单。', retry: false },
  // The service did not hear from the gateway in time (payment_unknown):
  // the order may be paid; never offer to pay again, ask your server.
  checking: { title: '正在确认', message: '支付结果确认中，请勿重复支付。', retry: false },
  // The service could not be reached, or answered garbage.
  network_error: { title: '网络异常', message: '网络连接失败，请检查网络后重试。', retry: true },
  // Any other refusal (wallet_unavailable, invalid_client_secret,
  // rate_limited, …): the error's code says which.
  error: { title: '无法支付', message: '暂时无法发起支付，请稍后重试。', retry: true }
}

// The service's error codes that end in an outcome of their own.
const CODE_OUTCOMES = {
  checkout_expired: 'expired',
  checkout_paid: 'already_paid',
  checkout_cancelled: 'cancelled',
  payment_unknown: 'checking'
}

// The keys wx.requestPayment takes, in the service's answer. appId is
// also in the answer: WeChat takes it from the mini-program itself.
const PAYMENT_KEYS = ['timeStamp', 'nonceStr', 'package', 'signType', 'paySign']

// globalWx is the mini-program's global wx, by its name: globalThis is
// missing on older base libraries.
function globalWx () {
  // eslint-disable-next-line no-undef
  return typeof wx !== 'undefined' ? wx : undefined
}

function result (outcome, extra) {
  return Object.assign({ outcome }, RESULTS[outcome], extra || {})
}

// call turns a wx callback API into a promise of {ok, res}.
function call (fn, args) {
  return new Promise((resolve) => {
    fn(Object.assign({}, args, {
      success: (res) => resolve({ ok: true, res }),
      fail: (res) => resolve({ ok: false, res })
    }))
  })
}

// login asks WeChat for a fresh code (single use, five minutes).
async function login (wx) {
  const { ok, res } = await call(wx.login, {})
  if (!ok || !res || !res.code) return null
  return res.code
}

// requestParams asks the service for the payment parameters.
async function requestParams (wx, apiBase, checkoutId, clientSecret, code) {
  const { ok, res } = await call(wx.request, {
    url: apiBase.replace(/\/+$/, '') + '/v1/checkouts/' + encodeURIComponent(checkoutId) + '/wechat-mini-program-payments',
    method: 'POST',
    header: { 'content-type': 'application/json' },
    data: { client_secret: clientSecret, code },
    timeout: 20000
  })
  if (!ok) return { network: true, errMsg: res && res.errMsg }
  return { status: res.statusCode, body: res.data }
}

// payCheckout pays checkoutId: opts are {apiBase, checkoutId, clientSecret}
// and, for tests, wx (default: the mini-program's global wx).
async function payCheckout (opts) {
  const wx = opts.wx || globalWx()
  let answer
  // A refused code (used, or from another app) is worth one fresh login.
  for (let tries = 0; tries < 2; tries++) {
    const code = await login(wx)
    // wx.login fails when WeChat's servers cannot be reached.
    if (!code) return result('network_error', { code: 'login_failed' })
    answer = await requestParams(wx, opts.apiBase, opts.checkoutId, opts.clientSecret, code)
    if (answer.network) return result('network_error', { detail: answer.errMsg })
    const err = answer.body && answer.body.error
    if (!(answer.status === 400 && err && err.code === 'invalid_code')) break
  }
  if (answer.status !== 200) {
    const err = (answer.body && answer.body.error) || {}
    if (!err.code) return result('network_error', { status: answer.status })
    return result(CODE_OUTCOMES[err.code] || 'error', { code: err.code, status: answer.status })
  }
  const params = {}
  for (const k of PAYMENT_KEYS) {
    if (typeof answer.body[k] !== 'string' || answer.body[k] === '') {
      return result('network_error', { status: answer.status, detail: 'missing ' + k })
    }
    params[k] = answer.body[k]
  }
  const { ok, res } = await call(wx.requestPayment, params)
  if (ok) return result('ok')
  // WeChat reports a closed sheet as "requestPayment:fail cancel".
  if (res && /cancel/.test(res.errMsg || '')) return result('cancel')
  return result('fail', { detail: res && res.errMsg })
}

module.exports = { payCheckout, RESULTS, PAYMENT_KEYS }
