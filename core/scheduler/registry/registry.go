package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/plugins"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

// ErrInvalid wraps every reason Push refuses a module or its settings.
var ErrInvalid = errors.New("invalid plugin")

// ErrNoVersion is returned by Rollback when there is no version to go
// back to.
var ErrNoVersion = errors.New("no such version")

// wasmMagic starts every WebAssembly binary module.
var wasmMagic = []byte{0x00, 'a', 's', 'm'}

// Registry is the uploaded plugins of one cluster.
type Registry struct {
	plugins *client.Typed[*skiffv1alpha1.Plugin]
	blobs   *blobs.Store
	now     func() time.Time
	// beforeWrite, if set, runs before Push writes the Plugin (tests).
	beforeWrite func()
}

// New returns the registry over c and the module bucket blobs.
func New(c *client.Client, blobs *blobs.Store) *Registry {
	return &Registry{plugins: client.For[*skiffv1alpha1.Plugin](c), blobs: blobs, now: time.Now}
}

// Open connects the registry of the cluster conn is on: the API client
// and the module bucket (created when missing).
func Open(ctx context.Context, conn *bus.Conn) (*Registry, error) {
	c, err := client.New(ctx, conn)
	if err != nil {
		return nil, err
	}
	b, err := OpenBucket(ctx, conn)
	if err != nil {
		return nil, err
	}
	return New(c, b), nil
}

// OpenBucket opens (creating it when missing) the modules' bucket.
func OpenBucket(ctx context.Context, conn *bus.Conn) (*blobs.Store, error) {
	return blobs.Open(ctx, conn, blobs.Config{Bucket: subjects.PluginsBucket})
}

// Push is one upload.
type Push struct {
	// Name of the plugin (a DNS-1123 subdomain); required.
	Name string
	// Kind is the plugin's kind (default "scheduler").
	Kind skiffv1alpha1.PluginKind
	// Wasm is the module; required.
	Wasm []byte
	// Settings are the module's settings as JSON (nil: none).
	Settings []byte
	// FailurePolicy, when set, replaces the plugin's.
	FailurePolicy skiffv1alpha1.FailurePolicy
	// Version names the new version (default: "v" and one more than the
	// highest numbered version so far).
	Version string
}

// Check loads wasm with settings in a throw-away host, as a scheduler
// would, and returns why it would be refused (wrapping ErrInvalid), or
// nil.
func Check(ctx context.Context, wasm, settings []byte) error {
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return fmt.Errorf("%w: not a WebAssembly module", ErrInvalid)
	}
	if len(settings) > 0 && !jsonValid(settings) {
		return fmt.Errorf("%w: settings are not JSON", ErrInvalid)
	}
	h, err := plugins.New(ctx, plugins.Config{PoolSize: 1})
	if err != nil {
		return err
	}
	defer func() { _ = h.Close(context.WithoutCancel(ctx)) }()
	p, err := h.Load(ctx, "check", "", wasm, settings)
	if err != nil {
		var pe *plugins.Error
		if errors.As(err, &pe) {
			return fmt.Errorf("%w: %s: %s", ErrInvalid, pe.Kind, pe.Detail)
		}
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if info := p.Info(); !info.Filter && !info.Score {
		return fmt.Errorf("%w: the module exports neither filter nor score", ErrInvalid)
	}
	return nil
}

// Push checks the module, stores it by digest and makes it the plugin's
// current version (creating the Plugin object for a new name). It returns
// the Plugin as written.
//
// The module is stored first, and written again when the stored copy is
// older than RefreshAge, so that a module collector's grace period covers
// the time until the Plugin names it; once the Plugin is written, Push
// stores the module again if it went missing meanwhile.
func (r *Registry) Push(ctx context.Context, p Push) (*skiffv1alpha1.Plugin, error) {
	if p.Kind == "" {
		p.Kind = skiffv1alpha1.KindScheduler
	}
	if p.Kind != skiffv1alpha1.KindScheduler {
		return nil, fmt.Errorf("%w: kind %q: only %q plugins exist", ErrInvalid, p.Kind, skiffv1alpha1.KindScheduler)
	}
	if err := Check(ctx, p.Wasm, p.Settings); err != nil {
		return nil, err
	}
	digest := plugins.Digest(p.Wasm)
	if err := r.store(ctx, digest, p.Wasm); err != nil {
		return nil, err
	}
	var settings *runtime.RawExtension
	if len(p.Settings) > 0 {
		settings = &runtime.RawExtension{Raw: bytes.Clone(p.Settings)}
	}
	for {
		cur, err := r.plugins.Get(ctx, "", p.Name)
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return nil, err
		}
		if create {
			cur = &skiffv1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Name: p.Name}, Spec: skiffv1alpha1.PluginSpec{Kind: p.Kind}}
		}
		version := p.Version
		if version == "" {
			version = nextVersion(cur.Spec.History)
		}
		if slices.ContainsFunc(cur.Spec.History, func(v skiffv1alpha1.PluginVersion) bool { return v.Version == version }) {
			return nil, fmt.Errorf("%w: plugin %s already has a version %s", ErrInvalid, p.Name, version)
		}
		v := skiffv1alpha1.PluginVersion{Version: version, Digest: digest, Size: int64(len(p.Wasm)), Settings: settings,
			Pushed: metav1.NewTime(r.now().UTC().Truncate(time.Second))}
		cur.Spec.History = append(cur.Spec.History, v)
		if n := len(cur.Spec.History) - skiffv1alpha1.MaxHistory; n > 0 {
			cur.Spec.History = slices.Delete(cur.Spec.History, 0, n)
		}
		setCurrent(&cur.Spec, v)
		if p.FailurePolicy != "" {
			cur.Spec.FailurePolicy = p.FailurePolicy
		}
		if r.beforeWrite != nil {
			r.beforeWrite()
		}
		var out *skiffv1alpha1.Plugin
		if create {
			out, err = r.plugins.Create(ctx, cur, metav1.CreateOptions{})
		} else {
			out, err = r.plugins.Update(ctx, cur, metav1.UpdateOptions{})
		}
		if apierrors.IsConflict(err) || create && apierrors.IsAlreadyExists(err) {
			continue // someone else pushed meanwhile: take the next version
		}
		if err != nil {
			return nil, err
		}
		if err := r.restore(ctx, digest, p.Wasm); err != nil {
			return out, fmt.Errorf("plugin %s %s written, but its module could not be stored again: %w", p.Name, version, err)
		}
		return out, nil
	}
}

// Rollback makes an earlier version the plugin's current one: to, or
// else the version pushed before the current one.
func (r *Registry) Rollback(ctx context.Context, name, to string) (*skiffv1alpha1.Plugin, error) {
	for {
		cur, err := r.plugins.Get(ctx, "", name)
		if err != nil {
			return nil, err
		}
		h := cur.Spec.History
		i := slices.IndexFunc(h, func(v skiffv1alpha1.PluginVersion) bool { return v.Version == cur.Spec.Version })
		var target int
		switch {
		case to != "":
			target = slices.IndexFunc(h, func(v skiffv1alpha1.PluginVersion) bool { return v.Version == to })
			if target < 0 {
				return nil, fmt.Errorf("%w: plugin %s has no version %s (it has %s)", ErrNoVersion, name, to, versions(h))
			}
		case i <= 0:
			return nil, fmt.Errorf("%w: plugin %s has no version before %s", ErrNoVersion, name, cur.Spec.Version)
		default:
			target = i - 1
		}
		setCurrent(&cur.Spec, h[target])
		out, err := r.plugins.Update(ctx, cur, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		return out, err
	}
}

// List returns every Plugin, by name.
func (r *Registry) List(ctx context.Context) ([]*skiffv1alpha1.Plugin, error) {
	items, _, err := r.plugins.List(ctx, "", metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(items, func(a, b *skiffv1alpha1.Plugin) int { return strings.Compare(a.Name, b.Name) })
	return items, nil
}

func setCurrent(s *skiffv1alpha1.PluginSpec, v skiffv1alpha1.PluginVersion) {
	s.Version, s.Digest, s.Size = v.Version, v.Digest, v.Size
	s.Settings = nil
	if v.Settings != nil {
		s.Settings = v.Settings.DeepCopy()
	}
}

// nextVersion is "v" and one more than the highest "v<N>" in h.
func nextVersion(h []skiffv1alpha1.PluginVersion) string {
	n := 0
	for _, v := range h {
		if k, err := strconv.Atoi(strings.TrimPrefix(v.Version, "v")); err == nil && strings.HasPrefix(v.Version, "v") {
			n = max(n, k)
		}
	}
	return "v" + strconv.Itoa(n+1)
}

func versions(h []skiffv1alpha1.PluginVersion) string {
	names := make([]string, len(h))
	for i, v := range h {
		names[i] = v.Version
	}
	return strings.Join(names, ", ")
}

// ErrRefused is returned by WaitServing when the leading scheduler
// refused the version.
var ErrRefused = errors.New("refused by the scheduler")

// WaitServing waits until the leading scheduler reports version of the
// plugin as serving (nil), reports it refused (ErrRefused, with the
// scheduler's reason), or ctx ends (ctx's error).
func (r *Registry) WaitServing(ctx context.Context, name, version string) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		p, err := r.plugins.Get(ctx, "", name)
		if err != nil {
			return err
		}
		st := p.Status
		if p.Spec.Version == version && st.ObservedGeneration >= p.Generation {
			switch {
			case st.State == skiffv1alpha1.PluginLoaded && st.Version == version:
				return nil
			case st.State == skiffv1alpha1.PluginRefused:
				return fmt.Errorf("plugin %s %s %w: %s", name, version, ErrRefused, st.Message)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
