package subjects

import (
	"regexp"
	"testing"
)

var validToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func TestTokenExamples(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "_"},
		{"plain", "nginx-7d4f", "nginx-7d4f"},
		{"dots", "coordination.k8s.io", "coordination_2ek8s_2eio"},
		{"underscore", "a_b", "a_5fb"},
		{"colon", "system:node", "system_3anode"},
		{"upper", "ABC", "ABC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Token(tt.in); got != tt.want {
				t.Fatalf("Token(%q) = %q, want %q", tt.in, got, tt.want)
			}
			back, ok := Untoken(tt.want)
			if !ok || back != tt.in {
				t.Fatalf("Untoken(%q) = %q, %v", tt.want, back, ok)
			}
		})
	}
}

func TestUntokenRejects(t *testing.T) {
	for _, in := range []string{"", "a.b", "a_", "a_2", "a_zz", "a_61", "a b", "_2E"} {
		if _, ok := Untoken(in); ok {
			t.Errorf("Untoken(%q) accepted", in)
		}
	}
}

func FuzzToken(f *testing.F) {
	for _, s := range []string{"", "a", "a.b", "_", "__", "x_2e", "kube-system", "日本", "\x00", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := Token(s)
		if !validToken.MatchString(tok) {
			t.Fatalf("Token(%q) = %q is not one NATS token", s, tok)
		}
		back, ok := Untoken(tok)
		if !ok || back != s {
			t.Fatalf("round trip %q -> %q -> %q (%v)", s, tok, back, ok)
		}
		// Injectivity: a token decodes to exactly one string, and that string
		// encodes back to the same token.
		if again, ok := Untoken(s); ok && Token(again) != s {
			t.Fatalf("Untoken(%q) = %q but Token gives %q", s, again, Token(again))
		}
	})
}
