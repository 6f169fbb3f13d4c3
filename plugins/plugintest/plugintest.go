package plugintest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type result struct {
	once sync.Once
	wasm []byte
	err  error
	took time.Duration
}

var (
	mu    sync.Mutex
	built = map[string]*result{}
)

func entry(pkg string) *result {
	mu.Lock()
	defer mu.Unlock()
	r := built[pkg]
	if r == nil {
		r = &result{}
		built[pkg] = r
	}
	return r
}

// Build returns the module built from pkg: a package path relative to the
// test's directory ("./testdata/loop") or an import path. It fails tb if
// the build fails.
func Build(tb testing.TB, pkg string) []byte {
	tb.Helper()
	r := entry(pkg)
	r.once.Do(func() { r.wasm, r.took, r.err = build(pkg) })
	if r.err != nil {
		tb.Fatalf("plugintest: build %s: %v", pkg, r.err)
	}
	return r.wasm
}

// Prebuild builds pkgs two at a time, so that the tests asking for them
// later find them ready; failures are reported by Build.
func Prebuild(pkgs ...string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, pkg := range pkgs {
		r := entry(pkg)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r.once.Do(func() { r.wasm, r.took, r.err = build(pkg) })
		})
	}
	wg.Wait()
}

func build(pkg string) ([]byte, time.Duration, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "plugintest")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "guest.wasm")
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("%w\n%s", err, stderr.Bytes())
	}
	wasm, err := os.ReadFile(out)
	return wasm, time.Since(start), err
}

// goTool is the go command on PATH (go test puts the one that runs it
// there first).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}
