package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/skiffhq/skiff/plugins/internal/interrupt"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// Defaults of Config.
const (
	DefaultMemoryLimit        = 64 << 20
	DefaultCallTimeout        = 250 * time.Millisecond
	DefaultInstantiateTimeout = 10 * time.Second
)

const pageSize = 64 << 10

// Config configures a Host. The zero value works: compiled code cached
// in memory, 64 MiB per instance, 250 ms per call, GOMAXPROCS instances
// per version.
type Config struct {
	// CacheDir keeps compiled modules on disk (wazero's compilation
	// cache, keyed by module digest and wazero version), so that a
	// restarted process loads a module in milliseconds instead of a
	// second. "" keeps them in memory only.
	CacheDir string
	// MemoryLimit caps each instance's linear memory, in bytes (whole
	// 64 KiB pages); 0 means DefaultMemoryLimit.
	MemoryLimit int64
	// CallTimeout bounds each filter or score call, by the wall clock
	// (time the calling goroutine waits for a core counts); 0 means
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// InstantiateTimeout bounds making an instance (instantiation, the
	// start function, configure and info); 0 means
	// DefaultInstantiateTimeout.
	InstantiateTimeout time.Duration
	// PoolSize is the most instances of one version alive at once, and so
	// the most concurrent calls; 0 means GOMAXPROCS.
	PoolSize int
	// ContextDeadlines stops calls that run past their deadline with
	// wazero's WithCloseOnContextDone instead of the host's own interrupt
	// flag (package interrupt). It is simpler and takes modules as they
	// are, but makes guests 4-5 times slower (docs/abi.md, "Deadlines").
	ContextDeadlines bool
	// Logger receives load, swap and failure logs; nil discards them.
	Logger *slog.Logger
}

// Host runs plugins. Build it with New, free it with Close.
type Host struct {
	cfg     Config
	log     *slog.Logger
	runtime wazero.Runtime
	cache   wazero.CompilationCache
	limit   uint64 // memory cap in bytes

	mu      sync.Mutex
	plugins map[string]*Plugin
	closed  bool

	// versions counts the loaded versions not closed yet: Close waits for
	// them (for their calls in flight) before it closes the runtime.
	versions sync.WaitGroup
}

// New validates cfg and builds a host: a wazero runtime with WASI
// preview 1 (no files, no environment, no arguments, deterministic
// clocks and randomness) for the guests.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.MemoryLimit < pageSize || cfg.MemoryLimit > 4<<30 {
		return nil, fmt.Errorf("plugins: MemoryLimit %d is not in [64 KiB, 4 GiB]", cfg.MemoryLimit)
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.InstantiateTimeout == 0 {
		cfg.InstantiateTimeout = DefaultInstantiateTimeout
	}
	if cfg.CallTimeout < 0 || cfg.InstantiateTimeout < 0 || cfg.PoolSize < 0 {
		return nil, errors.New("plugins: negative CallTimeout, InstantiateTimeout or PoolSize")
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Host{cfg: cfg, log: cfg.Logger, plugins: map[string]*Plugin{}}
	pages := uint64(cfg.MemoryLimit) / pageSize
	h.limit = pages * pageSize
	var err error
	if cfg.CacheDir != "" {
		h.cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugins: compilation cache %s: %w", cfg.CacheDir, err)
		}
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	// The runtime's page limit is one page above the cap: the cap itself
	// is enforced by each instance's allocator (see capped), which is how
	// a refused growth is told apart from any other trap.
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(h.cache).
		WithCloseOnContextDone(cfg.ContextDeadlines).
		WithMemoryLimitPages(uint32(min(pages+1, 65536)))
	h.runtime = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.runtime); err != nil {
		_ = h.runtime.Close(ctx)
		return nil, fmt.Errorf("plugins: WASI: %w", err)
	}
	return h, nil
}

// Digest is the digest Load and Swap record for wasm: "sha256:" and the
// hex SHA-256 of the bytes.
func Digest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Load compiles wasm, makes its first instance, configures it with
// settings and reads its info, and returns the handle of the plugin
// name with version as its active version. Errors are *Error of kind
// Instantiate or Settings; a name already loaded is an error (use Swap).
func (h *Host) Load(ctx context.Context, name, version string, wasm, settings []byte) (*Plugin, error) {
	if name == "" {
		return nil, errors.New("plugins: Load: empty name")
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if _, dup := h.plugins[name]; dup {
		h.mu.Unlock()
		return nil, fmt.Errorf("plugins: Load: %s is already loaded", name)
	}
	p := &Plugin{host: h, name: name}
	h.plugins[name] = p // reserves the name while compiling
	h.mu.Unlock()

	v, err := h.prepare(ctx, p, version, wasm, settings)
	if err != nil {
		h.mu.Lock()
		delete(h.plugins, name)
		h.mu.Unlock()
		return nil, err
	}
	p.active.Store(v)
	h.log.Info("plugin loaded", "plugin", name, "version", version, "digest", v.digest,
		"filter", v.info.Points.Has(abi.PointFilter), "score", v.info.Points.Has(abi.PointScore))
	return p, nil
}

// Plugin returns the loaded plugin called name, nil if there is none.
func (h *Host) Plugin(name string) *Plugin {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.plugins[name]
	if p != nil && p.active.Load() == nil {
		return nil // still loading
	}
	return p
}

// Close closes every plugin, waits for the calls in flight to end (each
// within its deadline) or for ctx, and closes the runtime. It is
// idempotent.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	ps := make([]*Plugin, 0, len(h.plugins))
	for _, p := range h.plugins {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	for _, p := range ps {
		_ = p.Close(ctx)
	}
	drained := make(chan struct{})
	go func() { h.versions.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		// Closing the runtime under a running call would free its code.
		return fmt.Errorf("plugins: close: calls still in flight: %w", ctx.Err())
	}
	err := h.runtime.Close(ctx)
	return errors.Join(err, h.cache.Close(ctx))
}

func (h *Host) forget(p *Plugin) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.plugins[p.name] == p {
		delete(h.plugins, p.name)
	}
}

// prepare compiles a version and makes its first instance.
func (h *Host) prepare(ctx context.Context, p *Plugin, version string, wasm, settings []byte) (*moduleVersion, error) {
	fail := func(op string, kind Kind, detail string, err error) error {
		e := &Error{Plugin: p.name, Version: version, Op: op, Kind: kind, Detail: detail, Err: err}
		p.counters.fail(e)
		h.log.Warn("plugin refused", "plugin", p.name, "version", version, "err", e)
		return e
	}
	code := wasm
	if !h.cfg.ContextDeadlines {
		var err error
		if code, err = interrupt.Instrument(wasm); err != nil {
			return nil, fail("load", KindInstantiate, err.Error(), err)
		}
	}
	compiled, err := h.runtime.CompileModule(ctx, code)
	if err != nil {
		return nil, fail("load", KindInstantiate, "compile: "+err.Error(), err)
	}
	if detail := checkExports(compiled); detail != "" {
		_ = compiled.Close(ctx)
		return nil, fail("load", KindInstantiate, detail, nil)
	}
	v := &moduleVersion{
		plugin: p, version: version, digest: Digest(wasm), compiled: compiled, serial: serials.Add(1),
		settings: append([]byte(nil), settings...),
		idle:     make(chan *instance, h.cfg.PoolSize),
		slots:    make(chan struct{}, h.cfg.PoolSize),
	}
	v.refs.Store(1)
	v.slots <- struct{}{}
	h.versions.Add(1)
	inst, e := v.instantiate(ctx)
	if e != nil {
		<-v.slots
		_ = compiled.Close(ctx)
		h.versions.Done()
		p.counters.fail(e)
		h.log.Warn("plugin refused", "plugin", p.name, "version", version, "err", e)
		return nil, e
	}
	v.info = inst.info
	v.idle <- inst
	return v, nil
}

// signatures are the ABI's exports: params, results, required.
var signatures = []struct {
	name            string
	params, results []api.ValueType
	required        bool
}{
	{abi.ExportInfo, nil, []api.ValueType{api.ValueTypeI64}, true},
	{abi.ExportBuffer, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}, true},
	{abi.ExportConfigure, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}, true},
	{abi.ExportFilter, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}, false},
	{abi.ExportScore, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}, false},
}

// checkExports names what a module lacks or gets wrong of the ABI's
// exports.
func checkExports(m wazero.CompiledModule) string {
	fns := m.ExportedFunctions()
	for _, sig := range signatures {
		f, ok := fns[sig.name]
		if !ok {
			if sig.required {
				return "missing export " + sig.name
			}
			continue
		}
		if !slices.Equal(f.ParamTypes(), sig.params) || !slices.Equal(f.ResultTypes(), sig.results) {
			return fmt.Sprintf("export %s has the wrong signature %v -> %v", sig.name, f.ParamTypes(), f.ResultTypes())
		}
	}
	if _, ok := m.ExportedMemories()[abi.ExportMemory]; !ok {
		return "missing exported memory"
	}
	return ""
}
