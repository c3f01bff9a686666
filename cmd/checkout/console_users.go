package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	qr "github.com/piglig/go-qr"
	"golang.org/x/term"

	"github.com/wallet-checkout/checkout/console"
)

// hashPassword reads a console user's password and prints its argon2id hash
// for the merchants file's password_hash. The password is never a flag or
// an argument (it would show in the process list and the shell's history):
// typed at a terminal without echo, twice, or one line from a pipe.
func hashPassword(args []string, in io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprint(stderr, "Usage:\n  checkout hash-password   (type the password when asked, or pipe it in one line)\nThe password is never an argument: it would show in the process list.\n")
		return exitUsage
	}
	var password string
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		read := func(prompt string) (string, error) {
			fmt.Fprint(stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			return string(b), err
		}
		p1, err := read("Password: ")
		if err != nil {
			fmt.Fprintf(stderr, "checkout hash-password: %v\n", err)
			return exitFailed
		}
		p2, err := read("Again: ")
		if err != nil {
			fmt.Fprintf(stderr, "checkout hash-password: %v\n", err)
			return exitFailed
		}
		if p1 != p2 {
			fmt.Fprintln(stderr, "checkout hash-password: the two passwords differ; nothing printed")
			return exitUsage
		}
		password = p1
	} else {
		line, err := bufio.NewReader(io.LimitReader(in, console.MaxPasswordLen+2)).ReadString('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintf(stderr, "checkout hash-password: reading stdin: %v\n", err)
			return exitFailed
		}
		password = strings.TrimRight(line, "\r\n")
	}
	hash, err := console.HashPassword(password)
	if err != nil {
		fmt.Fprintf(stderr, "checkout hash-password: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, hash)
	return exitOK
}

// totpNew makes a TOTP secret for a console user and prints it with its
// otpauth:// URI and the URI as a QR code drawn in the terminal.
func totpNew(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || !strings.Contains(args[0], "@") {
		fmt.Fprint(stderr, "Usage:\n  checkout totp-new EMAIL   print a new TOTP secret for the console user EMAIL\n")
		return exitUsage
	}
	email := strings.ToLower(strings.TrimSpace(args[0]))
	e, err := console.NewTOTP(email)
	if err != nil {
		fmt.Fprintf(stderr, "checkout totp-new: %v\n", err)
		return exitFailed
	}
	code, err := qr.EncodeText(e.URI, qr.Medium)
	if err != nil {
		fmt.Fprintf(stderr, "checkout totp-new: QR code: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, `Secret:  %s
URI:     %s

Scan with an authenticator app:

%s
Put the secret in an environment variable of the service (never in the file),
and name it in the user's entry of the merchants file, for example:

    totp_secret: ${SHOP_ADMIN_TOTP}

then reload the file (SIGHUP) or restart.
`, e.Secret, e.URI, terminalQR(code))
	return exitOK
}

// terminalQR draws code with half blocks, two modules a character high,
// dark on light with the 4-module quiet zone scanners need.
func terminalQR(code *qr.QrCode) string {
	const quiet = 4
	size := code.Size()
	dark := func(x, y int) bool {
		return x >= 0 && y >= 0 && x < size && y < size && code.Module(x, y)
	}
	var b strings.Builder
	for y := -quiet; y < size+quiet; y += 2 {
		for x := -quiet; x < size+quiet; x++ {
			top, bottom := dark(x, y), dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteRune(' ')
			case top:
				b.WriteRune('▄')
			case bottom:
				b.WriteRune('▀')
			default:
				b.WriteRune('█')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
