package controllers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controllers/eventttl"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
)

func TestNewChecksConfig(t *testing.T) {
	e := testenv.Start(t)
	tests := []struct {
		name string
		cfg  controllers.Config
		want string // substring of the error, "" for none
	}{
		{name: "zero", cfg: controllers.Config{}},
		{name: "event TTL", cfg: controllers.Config{EventTTL: eventttl.Timing{TTL: 5 * time.Minute}}},
		{name: "unknown controller", cfg: controllers.Config{Controllers: []string{"ttl"}}, want: `unknown controller "ttl"`},
		{name: "negative event TTL", cfg: controllers.Config{EventTTL: eventttl.Timing{TTL: -time.Hour}}, want: "negative"},
		{name: "negative expiry interval", cfg: controllers.Config{EventTTL: eventttl.Timing{Interval: -time.Second}}, want: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Client = e.Client
			_, err := controllers.New(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New: %v, want an error with %q", err, tt.want)
			}
		})
	}
}
