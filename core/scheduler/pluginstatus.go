package scheduler

import (
	"context"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

var updateOpts = metav1.UpdateOptions{}

// reported is what a replica last wrote of a plugin, and when.
type reported struct {
	entry skiffv1alpha1.PluginReplicaStatus
	at    time.Time
}

// staleReplica is how old another replica's entry may get before a
// writer drops it (the replica is gone).
const staleReplica = 10 * time.Minute

// reportLoop writes this replica's view of each plugin onto its Plugin
// object: at once when a version was loaded or refused, and otherwise
// at most once per interval and only when the counters moved. The write
// rate is so bounded by plugins × replicas / interval.
func (d *dynamic) reportLoop(ctx context.Context) {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.report(ctx, false)
		case <-d.reportKick:
			d.report(ctx, true)
		}
	}
}

// entries computes this replica's entry for every Plugin it knows.
func (d *dynamic) entries(now time.Time) map[string]skiffv1alpha1.PluginReplicaStatus {
	d.mu.Lock()
	out := make(map[string]skiffv1alpha1.PluginReplicaStatus, len(d.states))
	for name, st := range d.states {
		e := skiffv1alpha1.PluginReplicaStatus{Replica: d.s.cfg.Identity, ObservedGeneration: st.gen, State: st.state, Message: st.message,
			Updated: metav1.NewTime(now.UTC().Truncate(time.Second))}
		if st.active != nil {
			e.Version, e.Digest = st.active.key.version, st.active.key.digest
		}
		out[name] = e
	}
	d.mu.Unlock()
	// Counters: every loaded module of the plugin (the serving version,
	// the ones swapped out, profile-specific settings).
	d.refMu.Lock()
	mods := make([]*module, 0, len(d.loaded))
	for _, m := range d.loaded {
		mods = append(mods, m)
	}
	d.refMu.Unlock()
	for _, m := range mods {
		e, ok := out[m.key.plugin]
		if !ok {
			continue
		}
		s := m.p.Stats()
		e.Calls += s.Calls
		for _, n := range s.Errors {
			e.Errors += n
		}
		e.P99Micros = max(e.P99Micros, s.Latency.P99.Microseconds())
		if s.LastError != nil && m.key.version == e.Version {
			e.LastError = s.LastError.Error()
		}
		out[m.key.plugin] = e
	}
	return out
}

func (d *dynamic) report(ctx context.Context, urgent bool) {
	now := time.Now()
	leading := d.s.Leading()
	for name, e := range d.entries(now) {
		d.reportMu.Lock()
		last, ok := d.reported[name]
		d.reportMu.Unlock()
		moved := !ok || last.entry.Version != e.Version || last.entry.State != e.State || last.entry.Message != e.Message ||
			last.entry.ObservedGeneration != e.ObservedGeneration
		due := now.Sub(last.at) >= d.interval && (last.entry.Calls != e.Calls || last.entry.Errors != e.Errors)
		if !moved && !due && (!urgent || ok) {
			continue
		}
		if d.writePluginStatus(ctx, name, e, leading, now) {
			d.reportMu.Lock()
			d.reported[name] = reported{entry: e, at: now}
			d.reportMu.Unlock()
		}
	}
}

// writePluginStatus merges e into the Plugin's status (CAS, retried on
// conflict); it reports success.
func (d *dynamic) writePluginStatus(ctx context.Context, name string, e skiffv1alpha1.PluginReplicaStatus, leading bool, now time.Time) bool {
	cur, ok := d.pluginInf.Get("", name)
	for range 4 {
		if !ok {
			return false
		}
		next := cur.DeepCopy()
		mergeReplica(&next.Status, e, leading, now)
		_, err := d.pluginAPI.UpdateStatus(ctx, next, updateOpts)
		if err == nil {
			return true
		}
		if !apierrors.IsConflict(err) || ctx.Err() != nil {
			d.log.Debug("write plugin status", "plugin", name, "err", err)
			return false
		}
		cur, err = d.pluginAPI.Get(ctx, "", name)
		ok = err == nil
	}
	return false
}

// mergeReplica puts e in st's replicas (dropping stale ones) and
// recomputes the summary: the leader's version, state and message; the
// sum of calls and errors; the worst p99. It is pure.
func mergeReplica(st *skiffv1alpha1.PluginStatus, e skiffv1alpha1.PluginReplicaStatus, leading bool, now time.Time) {
	rs := slices.DeleteFunc(st.Replicas, func(r skiffv1alpha1.PluginReplicaStatus) bool {
		return r.Replica == e.Replica || now.Sub(r.Updated.Time) > staleReplica
	})
	rs = append(rs, e)
	slices.SortFunc(rs, func(a, b skiffv1alpha1.PluginReplicaStatus) int { return strings.Compare(a.Replica, b.Replica) })
	st.Replicas = rs
	if leading || st.State == "" {
		st.ObservedGeneration, st.Version, st.State, st.Message = e.ObservedGeneration, e.Version, e.State, e.Message
	}
	st.Calls, st.Errors, st.P99Micros, st.LastError = 0, 0, 0, ""
	var latest metav1.Time
	for _, r := range rs {
		st.Calls += r.Calls
		st.Errors += r.Errors
		st.P99Micros = max(st.P99Micros, r.P99Micros)
		if r.LastError != "" && !r.Updated.Before(&latest) {
			st.LastError, latest = r.LastError, r.Updated
		}
	}
}

// profilesChanged follows an installed generation: the pending pods of
// added profiles enter the queue (the informer ignored them until now)
// with their nominations, those of removed profiles leave it and lose
// their nominations in the cache (as the informer treats a pod that is no
// longer pending), and the unschedulable pods are retried (a new version
// may take them). A removed profile's pods keep status.nominatedNodeName:
// they are not this scheduler's pods any more, and should the profile
// come back, the nomination comes back with them.
func (s *Scheduler) profilesChanged(added, removed []string) {
	if len(added) > 0 || len(removed) > 0 {
		for _, p := range s.pods.List() {
			switch name := p.Spec.SchedulerName; {
			case assigned(p):
			case slices.Contains(removed, name):
				s.queue.Delete(p)
				s.eng.cache.RemoveNominatedPod(p.UID)
			case slices.Contains(added, name) && p.DeletionTimestamp == nil && !terminal(p):
				s.queue.Add(p)
				s.nominate(nil, p)
			}
		}
	}
	s.queue.MoveAll(framework.ClusterEvent{Resource: framework.WildCard, Action: framework.All})
}
