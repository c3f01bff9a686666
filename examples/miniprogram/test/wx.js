// A stand-in for the mini-program's wx, for Node's test runner: login asks
// the service's wallet emulator for a code (GET /walletsim/wxa/login, the
// part WeChat's servers play for the real wx.login), request is a real
// HTTP call (fetch), and requestPayment records exactly what it was given
// and plays the payer at the sandbox gateway (POST /sandbox/payer/
// wechat-jsapi, which refuses a wrong paySign) the way mode says.

'use strict'

function makeWx ({ serviceBase, appId, payer, mode, codes }) {
  const wx = {
    logins: 0,
    // answers of the mini-program payment endpoint, in order
    paymentAnswers: [],
    // what wx.requestPayment was called with (callbacks left out)
    paymentCalls: [],
    // what the sandbox answered the payer's action
    sandboxAnswers: [],

    login ({ success, fail }) {
      wx.logins++
      // codes: codes to hand out before asking the emulator (a used or
      // made-up code, to see the library log in again).
      if (codes && codes.length) { success({ code: codes.shift(), errMsg: 'login:ok' }); return }
      const u = serviceBase + '/walletsim/wxa/login?appid=' + encodeURIComponent(appId) + '&payer=' + encodeURIComponent(payer)
      fetch(u).then((r) => r.json()).then((b) => {
        if (b.code) success({ code: b.code, errMsg: 'login:ok' })
        else fail({ errMsg: 'login:fail ' + JSON.stringify(b) })
      }, (e) => fail({ errMsg: 'login:fail ' + e.message }))
    },

    request ({ url, method, header, data, success, fail }) {
      const init = { method: method || 'GET', headers: header || {} }
      if (data !== undefined && init.method !== 'GET') init.body = JSON.stringify(data)
      fetch(url, init).then(async (r) => {
        const text = await r.text()
        let body = text
        // wx.request parses JSON answers and hands other text on as is.
        try { body = JSON.parse(text) } catch (_) {}
        if (/\/wechat-mini-program-payments$/.test(url)) wx.paymentAnswers.push({ status: r.status, body })
        success({ statusCode: r.status, data: body, header: Object.fromEntries(r.headers), errMsg: 'request:ok' })
      }, (e) => fail({ errMsg: 'request:fail ' + e.message }))
    },

    requestPayment (args) {
      const { success, fail, complete, ...params } = args
      wx.paymentCalls.push(params)
      if (mode === 'fail') {
        // WeChat refused before any money moved (e.g. no balance).
        fail({ errMsg: 'requestPayment:fail 余额不足' })
        return
      }
      // WeChat knows the mini-program's own appId; the sheet pays (or is
      // closed) at the gateway.
      const body = Object.assign({ appId }, params, mode === 'cancel' ? { action: 'cancel' } : {})
      fetch(serviceBase + '/sandbox/payer/wechat-jsapi', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
      }).then(async (r) => {
        const b = await r.json()
        wx.sandboxAnswers.push({ status: r.status, body: b })
        if (r.status === 200 && b.err_msg === 'get_brand_wcpay_request:ok') success({ errMsg: 'requestPayment:ok' })
        else if (/cancel/.test(b.err_msg || '')) fail({ errMsg: 'requestPayment:fail cancel' })
        else fail({ errMsg: 'requestPayment:fail ' + JSON.stringify(b) })
      }, (e) => fail({ errMsg: 'requestPayment:fail ' + e.message }))
    },

    navigateBack () {}
  }
  return wx
}

module.exports = { makeWx }
