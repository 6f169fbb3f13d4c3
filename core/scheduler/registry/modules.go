package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/plugins"
)

// Modules returns modules by digest: from Dir when a file there has the
// right digest, else from the Object Store (and then keeps a copy in
// Dir). The zero Dir keeps nothing on disk.
type Modules struct {
	Blobs *blobs.Store
	Dir   string
}

// Module returns the module whose digest is digest.
func (m *Modules) Module(ctx context.Context, digest string) ([]byte, error) {
	hexd, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexd) != 64 || strings.ContainsAny(hexd, "./\\") {
		return nil, fmt.Errorf("registry: bad digest %q", digest)
	}
	path := ""
	if m.Dir != "" {
		path = filepath.Join(m.Dir, hexd+".wasm")
		if b, err := os.ReadFile(path); err == nil && plugins.Digest(b) == digest {
			return b, nil
		}
	}
	if m.Blobs == nil {
		return nil, fmt.Errorf("registry: module %s: %w", digest, blobs.ErrNotFound)
	}
	b, err := m.Blobs.ReadAll(ctx, digest)
	if err != nil {
		return nil, err
	}
	if got := plugins.Digest(b); got != digest {
		return nil, fmt.Errorf("registry: module %s has digest %s in the store", digest, got)
	}
	if path != "" {
		// Best effort: a cache that cannot be written only costs a fetch.
		if err := os.MkdirAll(m.Dir, 0o755); err == nil {
			tmp := path + ".tmp"
			if os.WriteFile(tmp, b, 0o644) == nil {
				_ = os.Rename(tmp, path)
			}
		}
	}
	return b, nil
}

func jsonValid(b []byte) bool { return json.Valid(b) }
