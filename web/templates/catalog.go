package templates

// catalog holds every message of the pages. zh-Hans is complete; a key
// missing from another language falls back to it (a test keeps them equal).
var catalog = map[string]map[string]string{
	LangZhHans: {
		"checkout.title": "收银台",
	},
	LangZhHant: {
		"checkout.title": "收銀台",
	},
	LangEn: {
		"checkout.title": "Checkout",
	},
}
