// Where the mini-program finds the checkout service and your own server.
// Both hosts must be in the mini-program's "request 合法域名" list.
module.exports = {
  // The checkout service (CHECKOUT_PUBLIC_URL).
  apiBase: 'https://pay.example.com',
  // Your server: it created the checkout and hands its client secret to
  // the payer's mini-program (never an API key).
  merchantBase: 'https://shop.example.com/api'
}
