package kubeapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteErrorLogsServerFailuresOnly(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		wantLog bool
	}{
		{name: "a server failure", ctx: context.Background(), err: errors.New("store unreachable"), wantLog: true},
		{name: "the client went away", ctx: gone, err: fmt.Errorf("watch: %w", context.Canceled)},
		{name: "a failure while the client goes away", ctx: gone, err: errors.New("store unreachable"), wantLog: true},
		{name: "a cancellation the client did not cause", ctx: context.Background(), err: context.Canceled, wantLog: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			s := &Server{log: slog.New(slog.NewTextHandler(&log, nil))}
			req := httptest.NewRequestWithContext(tt.ctx, http.MethodGet, "/api/v1/pods?watch=1", nil)
			rec := httptest.NewRecorder()
			s.writeError(rec, req, tt.err)
			if got := strings.Contains(log.String(), "request failed"); got != tt.wantLog {
				t.Errorf("logged %v, want %v: %q", got, tt.wantLog, log.String())
			}
			if rec.Code < 500 {
				t.Errorf("code %d, want a 5xx Status", rec.Code)
			}
		})
	}
}
