package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Errors of the envelope and of callbacks. Each names one thing that was
// wrong, so that callers and logs can tell a wrong key from a forged sign.
var (
	ErrKeyLength     = errors.New("gateway: open_key must be exactly 32 bytes")
	ErrDataOddLength = errors.New("gateway: data has an odd number of hex digits")
	ErrDataNotHex    = errors.New("gateway: data is not hex")
	ErrDataBlockSize = errors.New("gateway: data is not a whole number of AES blocks")
	ErrBadPadding    = errors.New("gateway: data has bad padding (wrong open_key?)")
	ErrWrongKey      = errors.New("gateway: data decrypts to garbage (wrong open_key?)")
	ErrMissingSign   = errors.New("gateway: sign is missing")
	ErrBadSign       = errors.New("gateway: sign does not match")
	ErrMalformed     = errors.New("gateway: malformed response")
	ErrInvalid       = errors.New("gateway: invalid request")
	// ErrOutcomeUnknown means a payorder, payrefund or paycancel may or may
	// not have taken effect (timeout, broken connection, 5xx, unverifiable
	// answer). Never send it again blindly: query by out_no (Client.Resolve).
	ErrOutcomeUnknown = errors.New("gateway: outcome unknown")
)

// Code is an errcode of the gateway (document 5.1).
type Code int

// The gateway's error codes, as listed in document 5.1.
const (
	CodeOK                   Code = 0
	CodeBadSign              Code = 5
	CodeOpenIDMissing        Code = 8
	CodeTimestamp            Code = 9
	CodeStoreNotFound        Code = 3002
	CodeOrderNoEmpty         Code = 8001
	CodeOrderNotFound        Code = 8002
	CodeOrderNameEmpty       Code = 8003
	CodePayMethodEmpty       Code = 8004
	CodeOrderExists          Code = 8005
	CodeAmountWrong          Code = 8006
	CodePayMethodDisabled    Code = 8007
	CodeCreateFailed         Code = 8008
	CodeTradeNoEmpty         Code = 8009
	CodeCardNoEmpty          Code = 8010
	CodePaymentFailed        Code = 8011
	CodeNotCancellable       Code = 8012
	CodeCancelFailed         Code = 8013
	CodeOriginalOrderEmpty   Code = 8014
	CodeRefundAmountEmpty    Code = 8015
	CodeShopPassEmpty        Code = 8016
	CodeShopPassWrong        Code = 8017
	CodeOriginalNotFound     Code = 8018
	CodeNotRefundable        Code = 8019
	CodeRefundExists         Code = 8020
	CodeRefundExceedsLeft    Code = 8021
	CodeRefundExceedsPaid    Code = 8022
	CodeRefundFailed         Code = 8023
	CodeRefundExceedsTakings Code = 8040
	CodeOutNoEmpty           Code = 8044
	CodeOutNoExists          Code = 8045
	CodeRejected             Code = 8046
)

var codeText = map[Code][2]string{
	CodeOK:                   {"ok,没有错误", "ok"},
	CodeBadSign:              {"验证签名错误", "bad signature"},
	CodeOpenIDMissing:        {"token不能为空", "open_id missing (or the body was not a form)"},
	CodeTimestamp:            {"timestamp error", "timestamp more than 600 s off"},
	CodeStoreNotFound:        {"门店不存在", "store not found"},
	CodeOrderNoEmpty:         {"订单号不能为空", "order number empty"},
	CodeOrderNotFound:        {"订单不存在", "order not found"},
	CodeOrderNameEmpty:       {"订单名称不能为空", "order name empty"},
	CodePayMethodEmpty:       {"付款方式不能为空", "pay method empty"},
	CodeOrderExists:          {"订单号已经存在，请勿重复提交", "order number exists"},
	CodeAmountWrong:          {"收款金额有误", "amount wrong"},
	CodePayMethodDisabled:    {"付款方式未开通", "pay method not enabled"},
	CodeCreateFailed:         {"创建订单失败", "create failed"},
	CodeTradeNoEmpty:         {"交易号不能为空", "trade_no empty"},
	CodeCardNoEmpty:          {"银行卡号不能为空", "card number empty"},
	CodePaymentFailed:        {"支付失败", "payment failed"},
	CodeNotCancellable:       {"当前订单不能取消，如果已经付款，请使用退款功能", "order cannot be cancelled (already paid or cancelled)"},
	CodeCancelFailed:         {"订单取消失败", "cancel failed"},
	CodeOriginalOrderEmpty:   {"原始付款单号不能为空", "original order number empty"},
	CodeRefundAmountEmpty:    {"退款金额不能为空", "refund amount empty"},
	CodeShopPassEmpty:        {"主管密码不能为空", "supervisor password empty"},
	CodeShopPassWrong:        {"主管密码错误", "supervisor password wrong"},
	CodeOriginalNotFound:     {"原始订单不存在", "original order not found"},
	CodeNotRefundable:        {"当前订单不允许退款，状态异常", "order not refundable in its state"},
	CodeRefundExists:         {"退款单号已经存在，请勿重复提交", "refund number exists"},
	CodeRefundExceedsLeft:    {"退款金额大于支付金额，当前订单有其它退款记录", "refund exceeds what is left after earlier refunds"},
	CodeRefundExceedsPaid:    {"退款金额大于支付金额", "refund exceeds the paid amount"},
	CodeRefundFailed:         {"退款失败", "refund failed"},
	CodeRefundExceedsTakings: {"当前退款金额大于商户今日交易总额", "refund exceeds today's takings"},
	CodeOutNoEmpty:           {"out_no不能为空", "out_no empty (or data undecryptable)"},
	CodeOutNoExists:          {"out_no已经存在，请勿重复发起支付", "out_no exists"},
	CodeRejected:             {"交易已被系统拒绝，请联系您的服务商", "rejected by the system"},
}

// Message is the document's own (Chinese) text for the code: what the
// gateway writes in msg.
func (c Code) Message() string {
	if t, ok := codeText[c]; ok {
		return t[0]
	}
	return "未知错误"
}

// Meaning is the code's meaning in English.
func (c Code) Meaning() string {
	if t, ok := codeText[c]; ok {
		return t[1]
	}
	return "unknown error code"
}

// Known reports whether the code is listed in document 5.1.
func (c Code) Known() bool {
	_, ok := codeText[c]
	return ok
}

// APIError is an answer of the gateway with a non-zero errcode. Msg is the
// gateway's own message (for 8011, the acquirer's reason). Test for a code
// with errors.Is(err, gateway.ErrOrderExists) or errors.As.
type APIError struct {
	Endpoint string
	Code     Code
	Msg      string
}

func (e *APIError) Error() string {
	if e.Endpoint == "" {
		return fmt.Sprintf("gateway errcode %d (%s): %s", e.Code, e.Code.Meaning(), e.Msg)
	}
	return fmt.Sprintf("gateway %s: errcode %d (%s): %s", e.Endpoint, e.Code, e.Code.Meaning(), e.Msg)
}

// Is matches any *APIError with the same code, so that the sentinels below
// work with errors.Is.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Code == e.Code && t.Endpoint == "" && t.Msg == ""
}

// Sentinels for errors.Is, one per code of document 5.1.
var (
	ErrGatewayBadSign       = &APIError{Code: CodeBadSign}
	ErrOpenIDMissing        = &APIError{Code: CodeOpenIDMissing}
	ErrTimestamp            = &APIError{Code: CodeTimestamp}
	ErrStoreNotFound        = &APIError{Code: CodeStoreNotFound}
	ErrOrderNoEmpty         = &APIError{Code: CodeOrderNoEmpty}
	ErrOrderNotFound        = &APIError{Code: CodeOrderNotFound}
	ErrOrderNameEmpty       = &APIError{Code: CodeOrderNameEmpty}
	ErrPayMethodEmpty       = &APIError{Code: CodePayMethodEmpty}
	ErrOrderExists          = &APIError{Code: CodeOrderExists}
	ErrAmountWrong          = &APIError{Code: CodeAmountWrong}
	ErrPayMethodDisabled    = &APIError{Code: CodePayMethodDisabled}
	ErrCreateFailed         = &APIError{Code: CodeCreateFailed}
	ErrTradeNoEmpty         = &APIError{Code: CodeTradeNoEmpty}
	ErrCardNoEmpty          = &APIError{Code: CodeCardNoEmpty}
	ErrPaymentFailed        = &APIError{Code: CodePaymentFailed}
	ErrNotCancellable       = &APIError{Code: CodeNotCancellable}
	ErrCancelFailed         = &APIError{Code: CodeCancelFailed}
	ErrOriginalOrderEmpty   = &APIError{Code: CodeOriginalOrderEmpty}
	ErrRefundAmountEmpty    = &APIError{Code: CodeRefundAmountEmpty}
	ErrShopPassEmpty        = &APIError{Code: CodeShopPassEmpty}
	ErrShopPassWrong        = &APIError{Code: CodeShopPassWrong}
	ErrOriginalNotFound     = &APIError{Code: CodeOriginalNotFound}
	ErrNotRefundable        = &APIError{Code: CodeNotRefundable}
	ErrRefundExists         = &APIError{Code: CodeRefundExists}
	ErrRefundExceedsLeft    = &APIError{Code: CodeRefundExceedsLeft}
	ErrRefundExceedsPaid    = &APIError{Code: CodeRefundExceedsPaid}
	ErrRefundFailed         = &APIError{Code: CodeRefundFailed}
	ErrRefundExceedsTakings = &APIError{Code: CodeRefundExceedsTakings}
	ErrOutNoEmpty           = &APIError{Code: CodeOutNoEmpty}
	ErrOutNoExists          = &APIError{Code: CodeOutNoExists}
	ErrRejected             = &APIError{Code: CodeRejected}
)

// ValidationError says which request field is wrong and why. It matches
// ErrInvalid with errors.Is.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("gateway: invalid request: %s: %s", e.Field, e.Reason)
}

// Is makes every ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// UnknownOutcomeError carries what is known of a call whose effect is
// uncertain. It matches ErrOutcomeUnknown with errors.Is and unwraps to the
// cause.
type UnknownOutcomeError struct {
	Endpoint string
	OutNo    string // the out_no (or refund_out_no) to resolve with
	Err      error
}

func (e *UnknownOutcomeError) Error() string {
	return fmt.Sprintf("gateway %s out_no %s: outcome unknown, query before retrying: %v", e.Endpoint, e.OutNo, e.Err)
}

// Is makes every UnknownOutcomeError match ErrOutcomeUnknown.
func (e *UnknownOutcomeError) Is(target error) bool { return target == ErrOutcomeUnknown }

// Unwrap returns the cause.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// Result classifies a call's error for counting, in a small fixed set: ok;
// unknown_outcome (a write whose effect is uncertain); errcode_<n> for a
// code of document 5.1 (errcode_other for any other); invalid (refused
// before sending); malformed (an answer we could not read or trust);
// cancelled (our context ended); transport (network or HTTP 5xx).
func Result(err error) string {
	var api *APIError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrOutcomeUnknown):
		return "unknown_outcome"
	case errors.As(err, &api):
		if api.Code.Known() {
			return "errcode_" + strconv.Itoa(int(api.Code))
		}
		return "errcode_other"
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrKeyLength):
		return "invalid"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrBadSign), errors.Is(err, ErrMissingSign),
		errors.Is(err, ErrDataOddLength), errors.Is(err, ErrDataNotHex), errors.Is(err, ErrDataBlockSize),
		errors.Is(err, ErrBadPadding), errors.Is(err, ErrWrongKey):
		return "malformed"
	}
	return "transport"
}
