package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/console"
)

// TestHashPassword runs the real binary with the password piped on stdin:
// it prints one argon2id hash that verifies the password, and never the
// password itself.
func TestHashPassword(t *testing.T) {
	cmd := exec.Command(os.Args[0], "hash-password")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = strings.NewReader("correct horse battery\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hash-password: %v\nstderr: %s", err, stderr.String())
	}
	hash := strings.TrimSpace(stdout.String())
	if strings.Count(stdout.String(), "\n") != 1 || !console.VerifyPassword("correct horse battery", hash) {
		t.Fatalf("stdout %q is not one hash of the password", stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "horse") {
		t.Error("the password is echoed")
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		args  []string
		stdin string
		want  string
	}{
		"password as argument": {[]string{"hunter2-hunter2"}, "", "never an argument"},
		"too short":            {nil, "short\n", "shorter than 10"},
		"empty stdin":          {nil, "", "shorter than 10"},
		"too long":             {nil, strings.Repeat("x", 400) + "\n", "longer than 256"},
	} {
		var out, errb bytes.Buffer
		code := hashPassword(tc.args, strings.NewReader(tc.stdin), &out, &errb)
		if code != exitUsage || out.Len() != 0 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want %d, nothing, %q", name, code, out.String(), errb.String(), exitUsage, tc.want)
		}
		if strings.Contains(errb.String(), "hunter2") {
			t.Errorf("%s: the password is echoed: %s", name, errb.String())
		}
	}
}

func TestTOTPNew(t *testing.T) {
	var out, errb bytes.Buffer
	if code := totpNew([]string{"Owner@Shop.Example"}, &out, &errb); code != exitOK {
		t.Fatalf("totp-new: %d %s", code, errb.String())
	}
	var secret, uri string
	for l := range strings.Lines(out.String()) {
		if s, ok := strings.CutPrefix(l, "Secret:"); ok {
			secret = strings.TrimSpace(s)
		}
		if s, ok := strings.CutPrefix(l, "URI:"); ok {
			uri = strings.TrimSpace(s)
		}
	}
	if err := console.CheckTOTPSecret(secret); err != nil {
		t.Errorf("secret %q: %v", secret, err)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != secret || !strings.Contains(u.Path, "owner@shop.example") {
		t.Errorf("URI %q", uri)
	}
	// The QR is drawn: a square of block characters with its quiet zone.
	if n := strings.Count(out.String(), "█"); n < 200 {
		t.Errorf("no terminal QR (%d full blocks):\n%s", n, out.String())
	}
	if code := totpNew(nil, &out, &errb); code != exitUsage {
		t.Errorf("totp-new without EMAIL: %d", code)
	}
}

var (
	demoEmailRe    = regexp.MustCompile(`(?m)^    email     (\S+)$`)
	demoPasswordRe = regexp.MustCompile(`(?m)^    password  (\S+)$`)
	csrfInputRe    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// TestDemoConsoleUser: the demo banner prints a console user, and that
// email and password sign in to the demo merchant's console.
func TestDemoConsoleUser(t *testing.T) {
	in := start(t, map[string]string{})
	out := in.stdout.String()
	email, password := match(t, demoEmailRe, out), match(t, demoPasswordRe, out)
	if !strings.Contains(out, in.base+"/console/login") {
		t.Errorf("the banner does not point at the console:\n%s", out)
	}
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := b.Get(in.base + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := match(t, csrfInputRe, string(page))
	resp, err = b.PostForm(in.base+"/console/login", url.Values{"csrf": {token}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("demo sign-in: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = b.Get(in.base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	home, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(home), email) {
		t.Errorf("demo console home: %s\n%s", resp.Status, home)
	}
	if strings.Contains(in.stderr.String(), password) {
		t.Error("the demo console password is in the logs")
	}
}
