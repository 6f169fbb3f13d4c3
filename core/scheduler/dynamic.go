package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/plugins"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

// Modules returns uploaded modules by digest ("sha256:<hex>"). It must be
// safe for concurrent use. registry.Modules is the implementation.
type Modules interface {
	Module(ctx context.Context, digest string) ([]byte, error)
}

// dynamic keeps the profiles that come from the API: it watches Plugin
// and SchedulerProfile objects, loads each Plugin's wanted version into
// the wazero host (a version that fails to load is refused and the one
// before keeps serving), builds the SchedulerProfiles' frameworks over
// the loaded versions, and installs a new generation when anything
// changed. Everything runs on its reconcile goroutine (Run); the only
// state other goroutines touch is the module reference counts (refMu)
// and the reports (reportMu).
//
// Lock order: mu (reconcile state) before refMu; reportMu is a leaf.
// refMu is never held across I/O or a module load.
type dynamic struct {
	s        *Scheduler
	log      *slog.Logger
	modules  Modules
	hostCfg  plugins.Config
	interval time.Duration

	pluginInf  *client.Informer[*skiffv1alpha1.Plugin]
	profileInf *client.Informer[*skiffv1alpha1.SchedulerProfile]
	pluginAPI  *client.Typed[*skiffv1alpha1.Plugin]
	profileAPI *client.Typed[*skiffv1alpha1.SchedulerProfile]

	kick, reportKick chan struct{}
	idle             chan *generation

	host *plugins.Host // set by Run before anything loads

	mu     sync.Mutex
	seq    int
	states map[string]*pluginState  // by Plugin name
	built  map[string]*builtProfile // by SchedulerProfile name
	retry  bool                     // a module fetch failed: reconcile again soon

	refMu  sync.Mutex
	loaded map[moduleKey]*module

	reportMu sync.Mutex
	reported map[string]reported // by Plugin name
}

// moduleKey is one loaded module: a Plugin's version with settings.
type moduleKey struct{ plugin, version, digest, settings string }

// module is a loaded version in the host; refs counts its holders (the
// plugin's state, built profiles, generations).
type module struct {
	key  moduleKey
	p    *plugins.Plugin
	refs int
}

// pluginState is what this replica did with a Plugin's wanted version.
type pluginState struct {
	want    moduleKey // the spec last acted on
	gen     int64     // its metadata.generation
	active  *module   // the version serving, nil if none loaded
	state   skiffv1alpha1.PluginState
	message string
	policy  skiffv1alpha1.FailurePolicy
}

// builtProfile is a SchedulerProfile's framework and the modules it uses.
type builtProfile struct {
	schedulerName string
	fingerprint   string
	fw            *framework.Framework // nil if it never built
	mods          []*module
	err           string
	plugins       []string // name@version of the uploaded plugins
	generation    int64
}

func newDynamic(s *Scheduler, m Modules, hostCfg plugins.Config, interval time.Duration) *dynamic {
	d := &dynamic{s: s, log: s.log, modules: m, hostCfg: hostCfg, interval: interval,
		pluginAPI: client.For[*skiffv1alpha1.Plugin](s.c), profileAPI: client.For[*skiffv1alpha1.SchedulerProfile](s.c),
		kick: make(chan struct{}, 1), reportKick: make(chan struct{}, 1), idle: make(chan *generation, 64),
		states: map[string]*pluginState{}, built: map[string]*builtProfile{}, loaded: map[moduleKey]*module{},
		reported: map[string]reported{}}
	poke := func() { signal(d.kick) }
	d.pluginInf = client.NewInformer(s.c, "", client.Handlers[*skiffv1alpha1.Plugin]{
		OnAdd: func(*skiffv1alpha1.Plugin) { poke() }, OnUpdate: func(_, _ *skiffv1alpha1.Plugin) { poke() }, OnDelete: func(*skiffv1alpha1.Plugin) { poke() }})
	d.profileInf = client.NewInformer(s.c, "", client.Handlers[*skiffv1alpha1.SchedulerProfile]{
		OnAdd: func(*skiffv1alpha1.SchedulerProfile) { poke() }, OnUpdate: func(_, _ *skiffv1alpha1.SchedulerProfile) { poke() },
		OnDelete: func(*skiffv1alpha1.SchedulerProfile) { poke() }})
	return d
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// informers are run by the scheduler with its own.
func (d *dynamic) informers() []func(context.Context) error {
	return []func(context.Context) error{d.pluginInf.Run, d.profileInf.Run}
}

func (d *dynamic) synced() []<-chan struct{} {
	return []<-chan struct{}{d.pluginInf.Synced(), d.profileInf.Synced()}
}

// start makes the host; Run must follow.
func (d *dynamic) start(ctx context.Context) error {
	cfg := d.hostCfg
	if cfg.Logger == nil {
		cfg.Logger = d.log.With("component", "plugins")
	}
	h, err := plugins.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	d.host = h
	return nil
}

// Run reconciles on every change (and releases idle generations) until
// ctx ends, then closes the host. The informers must have synced.
func (d *dynamic) Run(ctx context.Context) error {
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = d.host.Close(cctx)
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { d.reportLoop(ctx) })
	retry := time.NewTicker(retryEvery)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
			d.reconcile(ctx)
		case <-retry.C:
			d.mu.Lock()
			again := d.retry
			d.mu.Unlock()
			if again {
				d.reconcile(ctx)
			}
		case g := <-d.idle:
			d.unref(g.mods...)
		}
	}
}

// retryEvery is how often a version whose module could not be fetched
// (not in the Object Store yet, NATS unreachable) is tried again.
const retryEvery = 2 * time.Second

// retire is a generation's idle hook; it may run on the scheduling
// goroutine, so it hands the work to Run.
func (d *dynamic) retire(g *generation) {
	select {
	case d.idle <- g:
	default:
		d.unref(g.mods...) // Run is behind: do it here (no I/O)
	}
}

func (d *dynamic) ref(ms ...*module) {
	d.refMu.Lock()
	defer d.refMu.Unlock()
	for _, m := range ms {
		m.refs++
	}
}

func (d *dynamic) unref(ms ...*module) {
	var closing []*module
	d.refMu.Lock()
	for _, m := range ms {
		m.refs--
		if m.refs == 0 {
			delete(d.loaded, m.key)
			closing = append(closing, m)
		}
	}
	d.refMu.Unlock()
	for _, m := range closing {
		_ = m.p.Close(context.Background()) // calls in flight finish first
	}
}

// load returns the module of key with a reference, loading it into the
// host when it is not loaded yet. Only the reconcile goroutine loads.
func (d *dynamic) load(ctx context.Context, key moduleKey) (*module, error) {
	d.refMu.Lock()
	if m := d.loaded[key]; m != nil {
		m.refs++
		d.refMu.Unlock()
		return m, nil
	}
	d.refMu.Unlock()
	lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	wasm, err := d.modules.Module(lctx, key.digest)
	if err != nil {
		return nil, fmt.Errorf("fetch module %s: %w", key.digest, err)
	}
	d.seq++
	var settings []byte
	if key.settings != "" {
		settings = []byte(key.settings)
	}
	p, err := d.host.Load(lctx, fmt.Sprintf("%s@%s#%d", key.plugin, key.version, d.seq), key.version, wasm, settings)
	if err != nil {
		return nil, err
	}
	m := &module{key: key, p: p, refs: 1}
	d.refMu.Lock()
	d.loaded[key] = m
	d.refMu.Unlock()
	return m, nil
}

func settingsOf(s *skiffv1alpha1.PluginSpec) string {
	if s.Settings == nil {
		return ""
	}
	return string(s.Settings.Raw)
}

// reconcile brings the loaded versions and the profiles in line with the
// objects, and installs a new generation if the profiles changed.
func (d *dynamic) reconcile(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := d.syncPlugins(ctx)
	gen, added, removed := d.buildProfiles(ctx)
	if gen != nil {
		d.s.install(gen)
		d.s.profilesChanged(added, removed)
	}
	if changed {
		signal(d.reportKick)
	}
	if d.s.Leading() {
		d.writeProfileStatuses(ctx)
	}
}

// syncPlugins loads each Plugin's wanted version; it reports whether any
// state changed.
func (d *dynamic) syncPlugins(ctx context.Context) bool {
	changed := false
	d.retry = false
	seen := map[string]bool{}
	for _, p := range d.pluginInf.List() {
		if p.Spec.Kind != skiffv1alpha1.KindScheduler {
			continue
		}
		seen[p.Name] = true
		st := d.states[p.Name]
		if st == nil {
			st = &pluginState{}
			d.states[p.Name] = st
		}
		st.policy = p.Spec.FailurePolicy
		if st.gen != p.Generation {
			st.gen, changed = p.Generation, true
		}
		want := moduleKey{plugin: p.Name, version: p.Spec.Version, digest: p.Spec.Digest, settings: settingsOf(&p.Spec)}
		if st.want == want {
			continue
		}
		st.want, changed = want, true
		m, err := d.load(ctx, want)
		if err != nil {
			again := st.state == skiffv1alpha1.PluginRefused && st.message == refusal(err)
			st.state, st.message = skiffv1alpha1.PluginRefused, refusal(err)
			var pe *plugins.Error
			if !errors.As(err, &pe) {
				st.want, d.retry = moduleKey{}, true // the module, not the version, failed: retry
			}
			serving := "none"
			if st.active != nil {
				serving = st.active.key.version
			}
			level := slog.LevelWarn
			if again {
				level = slog.LevelDebug // a retry that failed the same way
			}
			d.log.Log(ctx, level, "plugin version refused", "plugin", p.Name, "version", want.version, "serving", serving, "err", err)
			continue
		}
		if st.active != nil {
			d.unref(st.active)
		}
		st.active, st.state, st.message = m, skiffv1alpha1.PluginLoaded, ""
		d.log.Info("plugin version loaded", "plugin", p.Name, "version", want.version, "digest", want.digest)
	}
	for name, st := range d.states {
		if !seen[name] {
			if st.active != nil {
				d.unref(st.active)
			}
			delete(d.states, name)
			changed = true
		}
	}
	return changed
}

// refusal is the one-line reason a version did not load.
func refusal(err error) string {
	var pe *plugins.Error
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %s: %s", pe.Op, pe.Kind, pe.Detail)
	}
	return err.Error()
}

// buildProfiles (re)builds the SchedulerProfiles whose spec or modules
// changed. It returns the new generation (nil if nothing changed) and
// the schedulerNames it adds and removes.
func (d *dynamic) buildProfiles(ctx context.Context) (gen *generation, added, removed []string) {
	sps := d.profileInf.List()
	slices.SortFunc(sps, func(a, b *skiffv1alpha1.SchedulerProfile) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	uploaded := func(name string) bool { return d.states[name] != nil }
	next := map[string]*builtProfile{}
	owner := map[string]string{}
	for _, sp := range sps {
		old := d.built[sp.Name]
		if o, dup := owner[sp.Spec.SchedulerName]; dup {
			next[sp.Name] = &builtProfile{schedulerName: sp.Spec.SchedulerName, generation: sp.Generation,
				err: fmt.Sprintf("schedulerName %s belongs to SchedulerProfile %s", sp.Spec.SchedulerName, o)}
			if old != nil {
				d.unref(old.mods...)
			}
			continue
		}
		owner[sp.Spec.SchedulerName] = sp.Name
		b := d.buildProfile(ctx, sp, uploaded, old)
		if b != old && old != nil {
			d.unref(old.mods...)
		}
		next[sp.Name] = b
	}
	for name, old := range d.built {
		if _, ok := next[name]; !ok {
			d.unref(old.mods...)
		}
	}
	d.built = next

	profiles := maps.Clone(d.s.static)
	var mods []*module
	for _, b := range next {
		if b.fw != nil {
			profiles[b.schedulerName] = b.fw
			mods = append(mods, b.mods...)
		}
	}
	cur := d.s.gen.Load().profiles
	if maps.Equal(cur, profiles) {
		return nil, nil, nil
	}
	for name := range profiles {
		if _, ok := cur[name]; !ok {
			added = append(added, name)
		}
	}
	for name := range cur {
		if _, ok := profiles[name]; !ok {
			removed = append(removed, name)
		}
	}
	d.ref(mods...)
	return newGeneration(profiles, mods, d.retire), added, removed
}

// buildProfile builds sp, or returns old when nothing it depends on
// changed. A profile that fails to build keeps old's framework (if any)
// and says why.
func (d *dynamic) buildProfile(ctx context.Context, sp *skiffv1alpha1.SchedulerProfile, uploaded func(string) bool, old *builtProfile) *builtProfile {
	keep := func(msg string) *builtProfile {
		b := &builtProfile{schedulerName: sp.Spec.SchedulerName, err: msg, generation: sp.Generation}
		if old != nil && old.schedulerName == sp.Spec.SchedulerName && old.fw != nil {
			b.fw, b.mods, b.plugins, b.fingerprint = old.fw, old.mods, old.plugins, old.fingerprint
			d.ref(b.mods...)
		}
		return b
	}
	prof, refs, err := profileFromSpec(&sp.Spec, d.s.cfg.Registry, uploaded)
	if err != nil {
		return keep(err.Error())
	}
	// The modules this build would use, and its fingerprint.
	var fp strings.Builder
	fmt.Fprintf(&fp, "%s/%d", sp.UID, sp.Generation)
	type resolved struct {
		ref wasmRef
		key moduleKey
		st  *pluginState
	}
	var rs []resolved
	for _, r := range refs {
		st := d.states[r.Name]
		if st.active == nil {
			return keep(fmt.Sprintf("plugin %s has no loaded version: %s", r.Name, st.message))
		}
		key := st.active.key
		if r.Settings != nil {
			key.settings = string(r.Settings)
		}
		rs = append(rs, resolved{r, key, st})
		fmt.Fprintf(&fp, "|%v|%s", key, st.policy)
	}
	if old != nil && old.fw != nil && old.fingerprint == fp.String() && old.err == "" {
		return old
	}
	var mods []*module
	fail := func(msg string) *builtProfile {
		d.unref(mods...)
		return keep(msg)
	}
	reg := maps.Clone(d.s.cfg.Registry)
	var names []string
	for _, r := range rs {
		m, err := d.load(ctx, r.key)
		if err != nil {
			return fail(fmt.Sprintf("plugin %s with the profile's settings: %v", r.ref.Name, err))
		}
		mods = append(mods, m)
		policy := cmp.Or(r.ref.Policy, r.st.policy)
		reg[r.ref.Name] = uploadedFactory(r.ref.Name, m.p, r.ref.Points, policy)
		names = append(names, r.ref.Name+"@"+r.key.version)
	}
	fw, err := framework.New(prof, reg, d.s.fwOpts)
	if err != nil {
		return fail(err.Error())
	}
	if !fw.HasBinder() {
		return fail("the profile has no bind plugin")
	}
	d.log.Info("scheduler profile built", "profile", sp.Name, "schedulerName", sp.Spec.SchedulerName, "plugins", names)
	return &builtProfile{schedulerName: sp.Spec.SchedulerName, fingerprint: fp.String(), fw: fw, mods: mods, plugins: names, generation: sp.Generation}
}

// writeProfileStatuses reports each SchedulerProfile's state (leader
// only, and only what changed).
func (d *dynamic) writeProfileStatuses(ctx context.Context) {
	for _, sp := range d.profileInf.List() {
		b := d.built[sp.Name]
		if b == nil {
			continue
		}
		want := skiffv1alpha1.SchedulerProfileStatus{ObservedGeneration: b.generation, State: skiffv1alpha1.ProfileActive, Plugins: b.plugins}
		if b.err != "" {
			want.State, want.Message = skiffv1alpha1.ProfileRefused, b.err
		}
		if equalProfileStatus(sp.Status, want) {
			continue
		}
		next := sp.DeepCopy()
		next.Status = want
		if _, err := d.profileAPI.UpdateStatus(ctx, next, updateOpts); err != nil && ctx.Err() == nil {
			d.log.Debug("write scheduler profile status", "profile", sp.Name, "err", err)
			signal(d.kick) // retry with the informer's newer copy
		}
	}
}

func equalProfileStatus(a, b skiffv1alpha1.SchedulerProfileStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.State == b.State && a.Message == b.Message && slices.Equal(a.Plugins, b.Plugins)
}
