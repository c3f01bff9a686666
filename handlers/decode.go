package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// decodeStrict parses a merchant API body into v, strictly: one JSON object
// in UTF-8, member names exactly as documented (case-sensitive; unknown
// ones refused), each name once, values of the documented types, nothing
// after the object. encoding/json would match names case-insensitively
// and let a repeated name win silently: with two parsers in front of an
// API (a merchant's proxy, ours) that is how a value gets smuggled past
// one of them. The errors never echo the input beyond a member name.
func decodeStrict(body []byte, v any) *requestError {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return badRequest("invalid_json", "", "the body is empty; send a JSON object")
	case trimmed[0] != '{':
		return badRequest("invalid_json", "", "the body must be a JSON object")
	}
	if err := json.Unmarshal(body, v, json.RejectUnknownMembers(true)); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError explains a decoding error without echoing the input.
func jsonError(err error) *requestError {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid_json", "", "the JSON object is incomplete")
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return badRequest("duplicate_parameter", memberName(syn.JSONPointer), "a member appears twice in the JSON object")
	case errors.As(err, &syn) && syn.Err != nil && strings.Contains(syn.Err.Error(), "UTF-8"):
		return badRequest("invalid_json", "", "the body must be UTF-8")
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "after top-level value"):
		return badRequest("invalid_json", "", "unexpected data after the JSON object")
	case errors.As(err, &syn):
		return badRequest("invalid_json", "", fmt.Sprintf("malformed JSON at byte %d", syn.ByteOffset))
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		return badRequest("unknown_parameter", memberName(sem.JSONPointer), "unknown parameter")
	case errors.As(err, &sem) && sem.GoType != nil:
		field := topMember(sem.JSONPointer)
		if field == "" {
			return badRequest("invalid_json", "", "the body must be a JSON object")
		}
		return invalid(field, "must be "+jsonType(sem.GoType))
	}
	return badRequest("invalid_json", "", "malformed JSON")
}

// memberName is the last name of a JSON pointer, cut to 64 valid bytes for
// an error's param.
func memberName(p jsontext.Pointer) string {
	name := p.LastToken()
	if len(name) > 64 || !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name[:min(len(name), 64)], "")
	}
	return name
}

// topMember is the request's own member a pointer starts with ("metadata"
// for /metadata/table), the one the API documents.
func topMember(p jsontext.Pointer) string {
	for tok := range p.Tokens() {
		return memberName(jsontext.Pointer("/" + tok))
	}
	return ""
}

// jsonType names the JSON type a Go type is decoded from.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int64, reflect.Int, reflect.Int32:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	}
	return "of another type"
}
