package events

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// Config configures a Recorder. Client is required.
type Config struct {
	Client *client.Client
	// Component is the source of events recorded without Named.
	Component string
	// Host is the reporting instance (the manager's identity).
	Host string
	// Buffer is how many events may wait for the writer (default 1024).
	Buffer int
	// Logger receives write failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Recorder records events.
type Recorder struct {
	w         *writer
	component string
}

type writer struct {
	cfg     Config
	events  *client.Typed[*corev1.Event]
	ch      chan *corev1.Event
	dropped atomic.Int64
	log     *slog.Logger

	mu      sync.Mutex // guards recent, similar, buckets
	recent  map[string]*corev1.Event
	similar map[string]*aggregate // by object, type, reason and source
	buckets map[string]*bucket    // by object and source
}

// aggregate tracks the messages of one kind of event about one object.
type aggregate struct {
	since    time.Time
	messages map[string]bool
}

// bucket is a token bucket of the spam filter.
type bucket struct {
	tokens float64
	at     time.Time
}

// Kubernetes' correlator settings.
const (
	maxSimilar   = 10
	spamBurst    = 25
	spamInterval = 5 * time.Minute
)

// correlationWindow is how long a repeated event updates the first one.
const correlationWindow = 10 * time.Minute

// maxRecent bounds the correlation cache.
const maxRecent = 4096

// New returns a Recorder; nothing is written until Run.
func New(cfg Config) *Recorder {
	if cfg.Client == nil {
		panic("bug: events.New without a client")
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &writer{cfg: cfg, events: client.For[*corev1.Event](cfg.Client), ch: make(chan *corev1.Event, cfg.Buffer),
		log: cfg.Logger, recent: map[string]*corev1.Event{}, similar: map[string]*aggregate{}, buckets: map[string]*bucket{}}
	return &Recorder{w: w, component: cfg.Component}
}

// Named returns a view of r that records with component as the source.
// A nil *Recorder (and its views) records nothing.
func (r *Recorder) Named(component string) *Recorder {
	if r == nil {
		return nil
	}
	return &Recorder{w: r.w, component: component}
}

// Dropped is how many events were dropped: the buffer was full, or the
// spam filter refused them.
func (r *Recorder) Dropped() int64 { return r.w.dropped.Load() }

// Normal records a Normal event about obj.
func (r *Recorder) Normal(obj runtime.Object, reason, format string, args ...any) {
	r.record(obj, corev1.EventTypeNormal, reason, fmt.Sprintf(format, args...))
}

// Event records an event of type typ (corev1.EventTypeNormal or
// EventTypeWarning) about obj with message as it is: the form in which
// planning cores hand their events to a shell.
func (r *Recorder) Event(obj runtime.Object, typ, reason, message string) {
	r.record(obj, typ, reason, message)
}

// Warning records a Warning event about obj.
func (r *Recorder) Warning(obj runtime.Object, reason, format string, args ...any) {
	r.record(obj, corev1.EventTypeWarning, reason, fmt.Sprintf(format, args...))
}

// Reference is the object reference Kubernetes puts in involvedObject.
func Reference(obj runtime.Object) (corev1.ObjectReference, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return corev1.ObjectReference{}, fmt.Errorf("events: %T has no metadata", obj)
	}
	gvks, _, err := api.Scheme().ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return corev1.ObjectReference{}, fmt.Errorf("events: kind of %T: %v", obj, err)
	}
	gvk := gvks[0]
	return corev1.ObjectReference{Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(), Namespace: m.GetNamespace(),
		Name: m.GetName(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion()}, nil
}

func (r *Recorder) record(obj runtime.Object, typ, reason, msg string) {
	if r == nil {
		return
	}
	ref, err := Reference(obj)
	if err != nil {
		r.w.log.Warn("event", "err", err)
		return
	}
	now := metav1.NewTime(r.w.cfg.Now())
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()), Namespace: ns},
		InvolvedObject:      ref,
		Reason:              reason,
		Message:             msg,
		Type:                typ,
		Source:              corev1.EventSource{Component: r.component, Host: r.w.cfg.Host},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: r.component,
		ReportingInstance:   r.w.cfg.Host,
	}
	select {
	case r.w.ch <- ev:
	default:
		r.w.dropped.Add(1)
	}
}

// Run writes recorded events until ctx ends.
func (r *Recorder) Run(ctx context.Context) error {
	w := r.w
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.ch:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			w.write(wctx, ev)
			cancel()
		}
	}
}

// correlationKey identifies repeats of an event; combined events share
// one key whatever their latest message.
func correlationKey(ev *corev1.Event) string {
	msg := ev.Message
	if strings.HasPrefix(msg, "(combined from similar events): ") {
		msg = "(combined)"
	}
	o := ev.InvolvedObject
	return fmt.Sprintf("%s/%s/%s/%s\x00%s\x00%s\x00%s\x00%s", o.Kind, o.Namespace, o.Name, o.UID, ev.Type, ev.Reason, msg, ev.Source.Component)
}

func objectKey(ev *corev1.Event) string {
	o := ev.InvolvedObject
	return fmt.Sprintf("%s/%s/%s/%s\x00%s", o.Kind, o.Namespace, o.Name, o.UID, ev.Source.Component)
}

// admit applies the spam filter and the aggregation to ev, at now; it
// reports whether ev is to be written, possibly changed into the combined
// event.
func (w *writer) admit(ev *corev1.Event, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buckets) >= maxRecent {
		clear(w.buckets)
	}
	if len(w.similar) >= maxRecent {
		clear(w.similar)
	}
	ok := objectKey(ev)
	b := w.buckets[ok]
	if b == nil {
		b = &bucket{tokens: spamBurst, at: now}
		w.buckets[ok] = b
	}
	b.tokens = min(spamBurst, b.tokens+now.Sub(b.at).Seconds()/spamInterval.Seconds())
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	ak := ok + "\x00" + ev.Type + "\x00" + ev.Reason
	a := w.similar[ak]
	if a == nil || now.Sub(a.since) > correlationWindow {
		a = &aggregate{since: now, messages: map[string]bool{}}
		w.similar[ak] = a
	}
	a.messages[ev.Message] = true
	if len(a.messages) > maxSimilar {
		ev.Message = "(combined from similar events): " + ev.Message
	}
	return true
}

func (w *writer) write(ctx context.Context, ev *corev1.Event) {
	if !w.admit(ev, ev.LastTimestamp.Time) {
		w.dropped.Add(1)
		return
	}
	k := correlationKey(ev)
	w.mu.Lock()
	prev := w.recent[k]
	w.mu.Unlock()
	if prev != nil && ev.LastTimestamp.Sub(prev.FirstTimestamp.Time) < correlationWindow {
		next := prev.DeepCopy()
		next.Count++
		next.LastTimestamp = ev.LastTimestamp
		next.Message = ev.Message
		out, err := w.events.Update(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			w.remember(k, out)
			return
		}
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			w.log.Warn("update event", "event", prev.Name, "err", err)
			return
		}
		// Gone or changed underneath: start a new one.
	}
	out, err := w.events.Create(ctx, ev, metav1.CreateOptions{})
	if err != nil {
		w.log.Warn("create event", "reason", ev.Reason, "object", ev.InvolvedObject.Name, "err", err)
		return
	}
	w.remember(k, out)
}

func (w *writer) remember(k string, ev *corev1.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.recent) >= maxRecent {
		clear(w.recent)
	}
	w.recent[k] = ev
}
