// pages/pay/pay: pays one checkout. Your own pages navigate here, and so
// does the hosted checkout page when it is opened in a <web-view> (WeChat
// Pay cannot be called from a web-view): it calls
//   wx.miniProgram.navigateTo({ url: '/pages/pay/pay?checkout_id=co_…' })
// (docs/pages.md, "Opening the hosted link inside a mini-program's
// web-view"). The page asks your server for the checkout's client secret,
// pays, and shows one result per outcome (lib/checkout.js, RESULTS).

'use strict'

const config = require('../../lib/config.js')
const { payCheckout, RESULTS } = require('../../lib/checkout.js')
const { fetchClientSecret } = require('../../lib/merchant.js')

// The ids the service gives checkouts.
const CHECKOUT_ID = /^co_[A-Za-z0-9]{8,64}$/

Page({
  data: { state: 'loading', title: '正在发起支付', message: '', retry: false, checkoutId: '' },

  // onLoad returns its promise so that a test can wait for the result;
  // WeChat ignores the value.
  onLoad (query) {
    const id = (query && query.checkout_id) || ''
    if (!CHECKOUT_ID.test(id)) {
      this.setData({ state: 'error', title: RESULTS.error.title, message: '缺少订单号，请返回重新下单。', retry: false })
      return Promise.resolve()
    }
    this.setData({ checkoutId: id })
    return this.pay()
  },

  async pay () {
    this.setData({ state: 'loading', title: '正在发起支付', message: '' })
    const id = this.data.checkoutId
    const secret = await fetchClientSecret(wx, config.merchantBase, id)
    if (!secret) {
      this.setData({ state: 'network_error', title: RESULTS.network_error.title, message: RESULTS.network_error.message, retry: true })
      return
    }
    const r = await payCheckout({ apiBase: config.apiBase, checkoutId: id, clientSecret: secret })
    this.setData({ state: r.outcome, title: r.title, message: r.message, retry: r.retry, code: r.code || '' })
  },

  // The "重新支付" button (shown when retry is true).
  onRetry () { return this.pay() },

  // The "返回" button: back to the page that opened this one (the
  // hosted page's web-view, or your own order page).
  onBack () { wx.navigateBack({ delta: 1 }) }
})
