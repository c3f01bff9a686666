// The example mini-program has one page, pages/pay/pay; add it to yours.
App({})
