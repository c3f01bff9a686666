package templates

import (
	"strings"
)

// Languages of the catalogue. LangDefault is used when nothing matches.
const (
	LangZhHans  = "zh-Hans"
	LangZhHant  = "zh-Hant"
	LangEn      = "en"
	LangDefault = LangZhHans
)

// Negotiate picks the catalogue language: a valid override (the ?lang=
// query, e.g. "en", "zh-Hant", "zh-TW") wins, else the first supported
// language of the Accept-Language header by quality, else zh-Hans.
func Negotiate(acceptLanguage, override string) string {
	if l, ok := match(override); ok {
		return l
	}
	best, bestQ := "", -1.0
	// Cut, not Split: every page view negotiates, and a slice of the
	// parts would be made for each.
	for rest, more := acceptLanguage, true; more; {
		var part string
		part, rest, more = strings.Cut(rest, ",")
		tag, q := parseRange(part)
		if q <= 0 || q <= bestQ {
			continue
		}
		if l, ok := match(tag); ok {
			best, bestQ = l, q
		}
	}
	if best == "" {
		return LangDefault
	}
	return best
}

// match maps a BCP 47 tag onto a catalogue language.
func match(tag string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(tag))
	t = strings.ReplaceAll(t, "_", "-")
	switch {
	case t == "":
		return "", false
	case t == "en" || strings.HasPrefix(t, "en-"):
		return LangEn, true
	case t == "zh-hant" || strings.HasPrefix(t, "zh-hant-") ||
		t == "zh-tw" || t == "zh-hk" || t == "zh-mo":
		return LangZhHant, true
	case t == "zh" || strings.HasPrefix(t, "zh-"):
		return LangZhHans, true
	}
	return "", false
}

// parseRange splits "en-US;q=0.8" into the tag and its quality (1 when
// absent, 0 when malformed, so garbage is ignored rather than preferred).
func parseRange(s string) (string, float64) {
	tag, params, _ := strings.Cut(s, ";")
	q := 1.0
	for more := true; more; {
		var p string
		p, params, more = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || strings.TrimSpace(k) != "q" {
			continue
		}
		q = parseQ(strings.TrimSpace(v))
	}
	return strings.TrimSpace(tag), q
}

// parseQ reads an RFC 9110 qvalue ("1", "0.8", "0.125"); anything else is 0.
func parseQ(v string) float64 {
	if v == "" || len(v) > 5 {
		return 0
	}
	whole, frac, _ := strings.Cut(v, ".")
	if whole != "0" && whole != "1" {
		return 0
	}
	n, scale := 0, 1
	for _, r := range frac {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int(r-'0')
		scale *= 10
	}
	q := float64(whole[0]-'0') + float64(n)/float64(scale)
	if q > 1 {
		return 0
	}
	return q
}

// Translate returns the message key in lang, falling back to zh-Hans and
// then to the key itself.
func Translate(lang, key string) string {
	if m, ok := catalog[lang]; ok {
		if s, ok := m[key]; ok {
			return s
		}
	}
	if s, ok := catalog[LangDefault][key]; ok {
		return s
	}
	return key
}

// ExplicitLang is the catalogue language a ?lang= value asks for, and
// whether it names one: the handlers carry an explicit choice from page to
// page (the OAuth round trip, the result page), where the Accept-Language
// header alone would lose it.
func ExplicitLang(override string) (string, bool) { return match(override) }
