package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/plugins"
)

// Modules returns modules by digest: from Dir when a file there has the
// right digest, else from the Object Store (and then keeps a copy in
// Dir). The zero Dir keeps nothing on disk.
//
// Dir holds <hex>.wasm per module, and <hex>.wasm.tmp while one is being
// written; Cached and Uncache are how its files are collected.
type Modules struct {
	Blobs *blobs.Store
	Dir   string
}

const (
	fileExt = ".wasm"
	tmpExt  = ".tmp"
)

// Module returns the module whose digest is digest.
func (m *Modules) Module(ctx context.Context, digest string) ([]byte, error) {
	hexd, ok := digestHex(digest)
	if !ok {
		return nil, fmt.Errorf("registry: bad digest %q", digest)
	}
	path := ""
	if m.Dir != "" {
		path = filepath.Join(m.Dir, hexd+fileExt)
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
			tmp := path + tmpExt
			if os.WriteFile(tmp, b, 0o644) == nil {
				_ = os.Rename(tmp, path)
			}
		}
	}
	return b, nil
}

// Cached lists the modules kept in Dir, each with when its file (or an
// unfinished write of it) was last written; none when Dir is "" or does
// not exist. Files of other names are not modules and are left out.
func (m *Modules) Cached() ([]Stored, error) {
	if m.Dir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(m.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: module cache: %w", err)
	}
	at := map[string]int{}
	var out []Stored
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), tmpExt)
		hexd, ok := strings.CutSuffix(name, fileExt)
		digest := "sha256:" + hexd
		if _, valid := digestHex(digest); !ok || !valid || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		i, seen := at[digest]
		if !seen {
			at[digest] = len(out)
			out = append(out, Stored{Digest: digest, ModTime: info.ModTime()})
		} else if info.ModTime().After(out[i].ModTime) {
			out[i].ModTime = info.ModTime()
		}
	}
	return out, nil
}

// Uncache removes module digest's file from Dir, and an unfinished write
// of it, each unless written at or after cutoff, and reports whether it
// removed any. Files already gone are not an error; without Dir it does
// nothing.
func (m *Modules) Uncache(digest string, cutoff time.Time) (bool, error) {
	hexd, ok := digestHex(digest)
	if !ok {
		return false, fmt.Errorf("registry: bad digest %q", digest)
	}
	if m.Dir == "" {
		return false, nil
	}
	removed := false
	for _, name := range []string{hexd + fileExt, hexd + fileExt + tmpExt} {
		path := filepath.Join(m.Dir, name)
		info, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("registry: module cache: %w", err)
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("registry: module cache: %w", err)
		}
		removed = true
	}
	return removed, nil
}

func jsonValid(b []byte) bool { return json.Valid(b) }
