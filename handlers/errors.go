package handlers

import (
	"github.com/gin-gonic/gin"
)

// apiError is the body of every error answer:
// {"error":{"code":…,"message":…,"param":…}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

type errorBody struct {
	Error apiError `json:"error"`
}

// abortError answers with an error body and stops the chain. Messages never
// carry secrets: they describe the request, not the service's state.
func abortError(c *gin.Context, status int, code, message, param string) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, errorBody{apiError{Code: code, Message: message, Param: param}})
}

// paramError is a validation failure of one request field.
type paramError struct {
	code    string
	param   string
	message string
}

func (e *paramError) Error() string { return e.param + ": " + e.message }

func invalid(param, message string) *paramError {
	return &paramError{code: "invalid_parameter", param: param, message: message}
}
