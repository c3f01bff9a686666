// Your server's side of the hand-off: the mini-program knows a checkout's
// id (from your own order page, or from the hosted page's web-view, which
// navigates to /pages/pay/pay?checkout_id=co_…) and asks your server for
// its client secret. Replace the URL with your own; the answer here is
// {"client_secret": "co_…_secret_…"}.

'use strict'

function fetchClientSecret (wx, merchantBase, checkoutId) {
  return new Promise((resolve) => {
    wx.request({
      url: merchantBase.replace(/\/+$/, '') + '/checkouts/' + encodeURIComponent(checkoutId) + '/client-secret',
      method: 'GET',
      success: (res) => resolve(res.statusCode === 200 && res.data && typeof res.data.client_secret === 'string' ? res.data.client_secret : null),
      fail: () => resolve(null)
    })
  })
}

module.exports = { fetchClientSecret }
