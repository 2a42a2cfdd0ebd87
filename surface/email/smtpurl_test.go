package email

import (
	"strings"
	"testing"

	"github.com/wneessen/go-mail"
)

func TestEmailParseSMTPURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url     string
		want    server
		wantErr string
	}{
		{url: "smtp://user:pa%3Ass@mail.example.com", want: server{host: "mail.example.com", port: 587, policy: mail.TLSOpportunistic, user: "user", pass: "pa:ss", auth: mail.SMTPAuthPlain}},
		{url: "smtp://u:p@mail.example.com:25?tls=required&auth=login", want: server{host: "mail.example.com", port: 25, policy: mail.TLSMandatory, user: "u", pass: "p", auth: mail.SMTPAuthLogin}},
		{url: "smtps://mail.example.com", want: server{host: "mail.example.com", port: 465, implicit: true, policy: mail.TLSOpportunistic, auth: mail.SMTPAuthPlain}},
		{url: "smtp://127.0.0.1:2525?tls=none", want: server{host: "127.0.0.1", port: 2525, policy: mail.NoTLS, auth: mail.SMTPAuthPlain}},
		{url: "smtp://[::1]:2525/", want: server{host: "::1", port: 2525, policy: mail.TLSOpportunistic, auth: mail.SMTPAuthPlain}},
		{url: "http://mail.example.com", wantErr: "is not smtp://"},
		{url: "mail.example.com:25", wantErr: "is not smtp://"},
		{url: "smtp://", wantErr: "no host"},
		{url: "smtp://mail.example.com:0", wantErr: "port"},
		{url: "smtp://mail.example.com:99999", wantErr: "port"},
		{url: "smtp://mail.example.com/inbox", wantErr: "path"},
		{url: "smtp://mail.example.com?tls=maybe", wantErr: "tls="},
		{url: "smtp://mail.example.com?starttls=1", wantErr: "unknown parameter"},
		{url: "smtps://mail.example.com?tls=none", wantErr: "contradicts"},
		{url: "smtp://mail.example.com?auth=login", wantErr: "no user"},
		{url: "smtp://u:p@mail.example.com?auth=xoauth", wantErr: "auth="},
		{url: "smtp://user:secret-pass@bad host", wantErr: "SMTP URL"},
		// An unencoded / ? or # in the user puts the password in the path, query or fragment.
		{url: "smtp://us/er:secret-pass@host", wantErr: "malformed"},
		{url: "smtp://us?er:secret-pass@host", wantErr: "malformed"},
		{url: "smtp://us#er:secret-pass@host", wantErr: "malformed"},
		{url: "smtp://host#x", wantErr: "fragment"},
		{url: "smtp://::", wantErr: "neither a name nor an IP address"},
	} {
		got, err := parseSMTPURL(tc.url)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want one containing %q", tc.url, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret-pass") {
				t.Errorf("%s: the error shows the password: %v", tc.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if *got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.url, *got, tc.want)
		}
		if strings.Contains(got.String(), "@") {
			t.Errorf("%s: String() %q shows credentials", tc.url, got.String())
		}
	}
}
