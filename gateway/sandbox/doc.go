// Package sandbox is a faithful simulator of the aggregated payment gateway:
// the server side of the whole protocol (paylist, order, order/view, payorder,
// paystatus, paycancel, payrefund, mpconfig/add, mpconfig/query) with the real
// server's envelope, signatures, error codes and PHP-style JSON quirks, plus
// the payer's side (hosted pay page, scan-and-pay, WeChat and Alipay JS
// bridge stand-ins) and the async notify with its retry schedule.
//
// It is the embedded default of the demo mode, the opponent of integration
// tests and a tool merchants develop against (see Main and docs/sandbox.md).
// Outcomes are deterministic: magic auth_codes and magic amounts (the last
// two digits of trade_amount) reproduce what goes wrong in real life. State
// lives in memory; a Server is safe for concurrent use.
//
// Time comes from Config.Clock and timers from Config.Timers, so that a test
// with a ManualClock can check notify delivery times exactly.
package sandbox
