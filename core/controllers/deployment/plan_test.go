package deployment_test

import (
	"flag"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/core/controllers/deployment"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

// In scenarios a template is named by its image tag ("v1"); the ReplicaSet
// of template v1 is web-v1, and the names the planner makes up for new
// ReplicaSets are printed as web-<tag> too.

func template(tag string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:" + tag}}},
	}
}

func tagOf(t *corev1.PodTemplateSpec) string {
	return strings.TrimPrefix(t.Spec.Containers[0].Image, "img:")
}

func intOrPercent(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

func parseDeployment(t *testing.T, words []string) *appsv1.Deployment {
	a := scenario.ParseAttrs(words)
	n := int32(a.Int("replicas", 3))
	gen := int64(a.Int("gen", 1))
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: scenario.UID("web"), Generation: gen,
			CreationTimestamp: metav1.NewTime(scenario.Now.Add(-24 * time.Hour))},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template(a.Str("template", "v1")), MinReadySeconds: int32(a.Int("minReady", 0)),
			Paused: a.Has("paused"),
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: int64(a.Int("observed", int(gen)))},
	}
	if a.Str("strategy", "RollingUpdate") == "Recreate" {
		d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	} else {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge: intOrPercent(a.Str("surge", "25%")), MaxUnavailable: intOrPercent(a.Str("unavailable", "25%"))}}
	}
	if v := a.Int("history", 10); v >= 0 {
		h := int32(v)
		d.Spec.RevisionHistoryLimit = &h
	}
	if v := a.Int("deadline", 600); v >= 0 {
		pd := int32(v)
		d.Spec.ProgressDeadlineSeconds = &pd
	}
	if r := a.Str("revision", ""); r != "" {
		d.Annotations = map[string]string{deployment.RevisionAnnotation: r}
	}
	// progressing=REASON:AGO is the Progressing condition the status has.
	if v := a.Str("progressing", ""); v != "" {
		reason, ago, _ := strings.Cut(v, ":")
		dur, err := time.ParseDuration(ago)
		if err != nil {
			t.Fatalf("progressing=%q: %v", v, err)
		}
		status := corev1.ConditionTrue
		if reason == deployment.ReasonTimedOut {
			status = corev1.ConditionFalse
		}
		if reason == deployment.ReasonPaused || reason == deployment.ReasonResumed {
			status = corev1.ConditionUnknown
		}
		at := metav1.NewTime(scenario.Now.Add(-dur))
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason, Message: "(set earlier)", LastUpdateTime: at, LastTransitionTime: at}}
	}
	if a.Has("deleting") {
		at := metav1.NewTime(scenario.Now)
		d.DeletionTimestamp = &at
	}
	if a.Has("selectAll") {
		d.Spec.Selector = &metav1.LabelSelector{}
	}
	if a.Has("fresh") {
		// No status counts yet (a Deployment never synced).
		d.Annotations = map[string]string{"fresh": "true"}
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("deployment: unknown attributes %v", u)
	}
	return d
}

// lastStatus fills the Deployment's status counts with what its
// ReplicaSets show, as its last sync would have (scenarios describe a
// Deployment in the middle of its life).
func lastStatus(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) {
	st := &d.Status
	for _, rs := range rss {
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
		if deployment.EqualIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			st.UpdatedReplicas += rs.Status.Replicas
		}
	}
	st.UnavailableReplicas = max(*d.Spec.Replicas-st.AvailableReplicas, 0)
}

func parseRS(t *testing.T, d *appsv1.Deployment, words []string) *appsv1.ReplicaSet {
	a := scenario.ParseAttrs(words)
	tag := a.Str("template", "v1")
	n := int32(a.Int("replicas", 0))
	avail := int32(a.Int("available", int(n)))
	name := "web-" + tag
	tmpl := template(tag)
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = tag
	yes := true
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: scenario.UID(name), Generation: 1,
			ResourceVersion: "1", CreationTimestamp: metav1.NewTime(scenario.Now.Add(-a.Dur("age", time.Hour))),
			Labels: tmpl.Labels, Annotations: map[string]string{},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: tag}},
			Template: tmpl},
		Status: appsv1.ReplicaSetStatus{Replicas: int32(a.Int("pods", int(n))), ReadyReplicas: int32(a.Int("ready", int(avail))),
			AvailableReplicas: avail, ObservedGeneration: 1},
	}
	if r := a.Str("revision", ""); r != "" {
		rs.Annotations[deployment.RevisionAnnotation] = r
	}
	if h := a.Str("history", ""); h != "" {
		rs.Annotations[deployment.RevisionHistoryAnnotation] = h
	}
	rs.Annotations[deployment.DesiredReplicasAnnotation] = a.Str("desired", strconv.Itoa(int(*d.Spec.Replicas)))
	rs.Annotations[deployment.MaxReplicasAnnotation] = a.Str("max", strconv.Itoa(int(*d.Spec.Replicas+deployment.MaxSurge(d))))
	if a.Has("failing") {
		rs.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			Reason: "FailedCreate", Message: "pods is forbidden: exceeded quota"}}
	}
	if a.Has("unobserved") {
		rs.Generation = 2
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("rs: unknown attributes %v", u)
	}
	return rs
}

// state is a Deployment and its ReplicaSets, as the input lines say.
type state struct {
	d    *appsv1.Deployment
	rss  []*appsv1.ReplicaSet
	pods map[types.UID][]*corev1.Pod
	// names maps a ReplicaSet's name to how scenarios print it.
	names map[string]string
}

func parseState(t *testing.T, c *scenario.Case) *state {
	s := &state{pods: map[types.UID][]*corev1.Pod{}, names: map[string]string{}}
	for _, l := range c.Input {
		w := strings.Fields(l)
		switch w[0] {
		case "deployment":
			s.d = parseDeployment(t, w[1:])
		case "rs":
			if s.d == nil {
				t.Fatalf("%s: rs before deployment", c.Pos)
			}
			rs := parseRS(t, s.d, w[1:])
			s.rss = append(s.rss, rs)
			s.names[rs.Name] = rs.Name
		case "pod":
			// pod NAME owner=web-v1 ...: a pod of that ReplicaSet.
			p, err := scenario.Pod(w[1:], "ReplicaSet", "")
			if err != nil {
				t.Fatalf("%s: %v", c.Pos, err)
			}
			if ref := p.OwnerReferences; len(ref) > 0 {
				s.pods[ref[0].UID] = append(s.pods[ref[0].UID], p)
			}
		default:
			t.Fatalf("%s: unknown input %q", c.Pos, w[0])
		}
	}
	if s.d == nil {
		t.Fatalf("%s: no deployment line", c.Pos)
	}
	if s.d.Annotations["fresh"] == "true" {
		delete(s.d.Annotations, "fresh")
	} else {
		lastStatus(s.d, s.rss)
	}
	return s
}

// name is how a ReplicaSet is printed: web-<tag of its template>.
func (s *state) name(rs *appsv1.ReplicaSet) string {
	n := "web-" + tagOf(&rs.Spec.Template)
	s.names[rs.Name] = n
	return n
}

func (s *state) rename(msg string) string {
	for real, shown := range s.names {
		if real != shown {
			msg = strings.ReplaceAll(msg, real, shown)
		}
	}
	return msg
}

func describePlan(s *state, p deployment.Plan) string {
	var b strings.Builder
	for _, a := range p.Actions {
		rs := a.RS
		name := s.name(rs)
		switch a.Op {
		case deployment.Create:
			fmt.Fprintf(&b, "create %s replicas=%d revision=%s desired=%s max=%s\n", name, *rs.Spec.Replicas,
				rs.Annotations[deployment.RevisionAnnotation], rs.Annotations[deployment.DesiredReplicasAnnotation], rs.Annotations[deployment.MaxReplicasAnnotation])
			if rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] == "" || rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == "" ||
				rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] {
				fmt.Fprintf(&b, "  BAD: pod-template-hash missing or inconsistent: %v %v\n", rs.Spec.Selector.MatchLabels, rs.Spec.Template.Labels)
			}
		case deployment.Update:
			var old *appsv1.ReplicaSet
			for _, o := range s.rss {
				if o.Name == rs.Name {
					old = o
				}
			}
			fmt.Fprintf(&b, "update %s", name)
			if old != nil && *old.Spec.Replicas != *rs.Spec.Replicas {
				fmt.Fprintf(&b, " replicas %d->%d", *old.Spec.Replicas, *rs.Spec.Replicas)
			}
			keys := make([]string, 0, len(rs.Annotations))
			for k := range rs.Annotations {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if old == nil || old.Annotations[k] != rs.Annotations[k] {
					fmt.Fprintf(&b, " %s=%s", strings.TrimPrefix(k, "deployment.kubernetes.io/"), rs.Annotations[k])
				}
			}
			b.WriteString("\n")
		case deployment.Delete:
			fmt.Fprintf(&b, "delete %s\n", name)
		}
		for _, e := range a.Events {
			fmt.Fprintf(&b, "  event %s %s %q\n", e.Type, e.Reason, s.rename(e.Message))
		}
	}
	for _, e := range p.Events {
		fmt.Fprintf(&b, "event %s %s %q\n", e.Type, e.Reason, s.rename(e.Message))
	}
	if p.Annotations != nil {
		fmt.Fprintf(&b, "annotate deployment revision=%s\n", p.Annotations[deployment.RevisionAnnotation])
	}
	if st := p.Status; st != nil {
		fmt.Fprintf(&b, "status replicas=%d updated=%d ready=%d available=%d unavailable=%d observedGeneration=%d",
			st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas, st.UnavailableReplicas, st.ObservedGeneration)
		if st.CollisionCount != nil {
			fmt.Fprintf(&b, " collisionCount=%d", *st.CollisionCount)
		}
		b.WriteString("\n")
		for _, c := range st.Conditions {
			fmt.Fprintf(&b, "  condition %s=%s %s %q\n", c.Type, c.Status, c.Reason, s.rename(c.Message))
		}
	}
	if p.RequeueAfter > 0 {
		fmt.Fprintf(&b, "requeue after %v\n", p.RequeueAfter.Round(time.Second))
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

func TestPlanScenarios(t *testing.T) {
	scenario.Run(t, "testdata/plan.txt", *update, func(t *testing.T, c *scenario.Case) string {
		s := parseState(t, c)
		if c.Cmd != "plan" {
			t.Fatalf("%s: unknown command %q", c.Pos, c.Cmd)
		}
		out := describePlan(s, deployment.Decide(deployment.Input{Deployment: s.d, ReplicaSets: s.rss, Pods: s.pods, Now: scenario.Now}))
		if strings.Contains(out, "BAD:") {
			t.Errorf("%s: %s", c.Pos, out)
		}
		return out
	})
}

func TestFenceposts(t *testing.T) {
	scenario.Run(t, "testdata/fenceposts.txt", *update, func(t *testing.T, c *scenario.Case) string {
		var b strings.Builder
		for _, l := range c.Input {
			a := scenario.ParseAttrs(strings.Fields(l))
			n := int32(a.Int("replicas", 0))
			surge, unavail, err := deployment.Fenceposts(intOrPercent(a.Str("surge", "0")), intOrPercent(a.Str("unavailable", "0")), n)
			if err != nil {
				fmt.Fprintf(&b, "%s: error %v\n", l, err)
				continue
			}
			d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &n, Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge: intOrPercent(a.Str("surge", "0")), MaxUnavailable: intOrPercent(a.Str("unavailable", "0"))}}}}
			fmt.Fprintf(&b, "%-46s -> surge %d unavailable %d (MaxSurge %d MaxUnavailable %d: at most %d pods, at least %d available)\n",
				l, surge, unavail, deployment.MaxSurge(d), deployment.MaxUnavailable(d), n+deployment.MaxSurge(d), n-deployment.MaxUnavailable(d))
		}
		return b.String()
	})
}

// sim plays the ReplicaSet controller and the nodes around Decide: each
// step applies the plan, then every ReplicaSet gets the pods it asks for
// (new pods start unavailable and become available after readySteps
// steps, or never when their template is "bad"; scale-down removes
// unavailable pods first).
type sim struct {
	*state
	readySteps int
	ages       map[string][]int // ReplicaSet name → pod ages in steps; -1 never ready
	step       int
	uid        int
}

func (s *sim) react() {
	for _, rs := range s.rss {
		ages := s.ages[rs.Name]
		want := int(*rs.Spec.Replicas)
		// Remove unavailable (youngest) pods first.
		sort.Sort(sort.Reverse(sort.IntSlice(ages)))
		if len(ages) > want {
			ages = ages[:want]
		}
		for len(ages) < want {
			if tagOf(&rs.Spec.Template) == "bad" {
				ages = append(ages, -1<<20)
			} else {
				ages = append(ages, -1)
			}
		}
		for i := range ages {
			ages[i]++
		}
		s.ages[rs.Name] = ages
		avail := 0
		for _, a := range ages {
			if a >= s.readySteps {
				avail++
			}
		}
		rs.Status.Replicas = int32(len(ages))
		rs.Status.ReadyReplicas = int32(avail)
		rs.Status.AvailableReplicas = int32(avail)
		rs.Status.ObservedGeneration = rs.Generation
	}
}

// apply applies a plan's writes to the state.
func (s *sim) apply(p deployment.Plan) {
	for _, a := range p.Actions {
		rs := a.RS.DeepCopy()
		switch a.Op {
		case deployment.Create:
			s.uid++
			rs.UID = types.UID(fmt.Sprintf("uid-new-%d", s.uid))
			rs.CreationTimestamp = metav1.NewTime(scenario.Now.Add(time.Duration(s.step) * time.Second))
			rs.Generation = 1
			s.rss = append(s.rss, rs)
		case deployment.Update:
			for i, o := range s.rss {
				if o.Name == rs.Name {
					if *o.Spec.Replicas != *rs.Spec.Replicas {
						rs.Generation++
					}
					s.rss[i] = rs
				}
			}
		case deployment.Delete:
			s.rss = slices.DeleteFunc(s.rss, func(o *appsv1.ReplicaSet) bool { return o.Name == rs.Name })
			delete(s.ages, rs.Name)
		}
	}
	if p.Annotations != nil {
		s.d.Annotations = p.Annotations
	}
	if p.Status != nil {
		s.d.Status = *p.Status
	}
}

func (s *sim) summary() string {
	var parts []string
	rss := slices.Clone(s.rss)
	sort.Slice(rss, func(i, j int) bool { return rss[i].CreationTimestamp.Before(&rss[j].CreationTimestamp) })
	for _, rs := range rss {
		parts = append(parts, fmt.Sprintf("%s %d/%d", s.name(rs), rs.Status.AvailableReplicas, *rs.Spec.Replicas))
	}
	return strings.Join(parts, " ")
}

// change is a spec change a rollout scenario makes at a step: "at N
// template=v3", "at N replicas=10", "at N pause", "at N resume".
type change struct {
	step  int
	attrs []string
}

func (s *sim) change(t *testing.T, words []string) string {
	a := scenario.ParseAttrs(words)
	d := s.d
	var did []string
	if tag := a.Str("template", ""); tag != "" {
		d.Spec.Template = template(tag)
		did = append(did, "template "+tag)
	}
	if n := a.Int("replicas", -1); n >= 0 {
		r := int32(n)
		d.Spec.Replicas = &r
		did = append(did, fmt.Sprintf("replicas %d", n))
	}
	if a.Has("pause") {
		d.Spec.Paused = true
		did = append(did, "pause")
	}
	if a.Has("resume") {
		d.Spec.Paused = false
		did = append(did, "resume")
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("at: unknown attributes %v", u)
	}
	d.Generation++
	return strings.Join(did, ", ")
}

func TestRolloutScenarios(t *testing.T) {
	scenario.Run(t, "testdata/rollout.txt", *update, func(t *testing.T, c *scenario.Case) string {
		if c.Cmd != "rollout" {
			t.Fatalf("%s: unknown command %q", c.Pos, c.Cmd)
		}
		var changes []change
		var rest []string
		for _, l := range c.Input {
			w := strings.Fields(l)
			if w[0] == "at" {
				changes = append(changes, change{step: atoi(t, w[1]), attrs: w[2:]})
				continue
			}
			rest = append(rest, l)
		}
		c.Input = rest
		s := &sim{state: parseState(t, c), ages: map[string][]int{}}
		s.readySteps = atoi(t, c.Arg("ready", "1"))
		// Start from the described state: pods as the statuses say.
		for _, rs := range s.rss {
			for i := range int(rs.Status.Replicas) {
				age := s.readySteps
				if i >= int(rs.Status.AvailableReplicas) {
					age = 0
				}
				s.ages[rs.Name] = append(s.ages[rs.Name], age)
			}
		}
		d := s.d
		bounds := func() (int32, int32) {
			n := *d.Spec.Replicas
			return n + deployment.MaxSurge(d), n - deployment.MaxUnavailable(d)
		}
		recreate := d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType
		var b strings.Builder
		maxPods, minAvail := bounds()
		if recreate {
			fmt.Fprintf(&b, "bounds: Recreate has none\n")
		} else {
			fmt.Fprintf(&b, "bounds: at most %d pods, at least %d available\n", maxPods, minAvail)
		}
		peak, low := int32(0), int32(1<<30)
		// The availability bound is promised once it was met (not while a
		// Deployment scales up towards it).
		var initial int32
		for _, rs := range s.rss {
			initial += rs.Status.AvailableReplicas
		}
		reached := initial >= minAvail
		now := scenario.Now
		var violations []string
		for s.step = 1; s.step <= 60; s.step++ {
			var did []string
			for _, ch := range changes {
				if ch.step == s.step {
					did = append(did, s.change(t, ch.attrs))
					maxPods, minAvail = bounds()
					var cur int32
					for _, rs := range s.rss {
						cur += rs.Status.AvailableReplicas
					}
					reached = cur >= minAvail
				}
			}
			now = now.Add(time.Second)
			p := deployment.Decide(deployment.Input{Deployment: s.d, ReplicaSets: s.rss, Pods: s.pods, Now: now})
			pending := false
			for _, ch := range changes {
				pending = pending || ch.step > s.step
			}
			if len(p.Actions) == 0 && p.Status == nil && p.Annotations == nil && len(did) == 0 && !pending {
				if p.RequeueAfter > 0 && p.RequeueAfter < time.Hour {
					// Nothing moves until the progress deadline: skip there.
					now = now.Add(p.RequeueAfter)
					fmt.Fprintf(&b, "    (nothing changes: the clock moves %v to the next check)\n", p.RequeueAfter.Round(time.Second))
					continue
				}
				cond := ""
				for _, c := range s.d.Status.Conditions {
					cond += fmt.Sprintf(" %s=%s/%s", c.Type, c.Status, c.Reason)
				}
				fmt.Fprintf(&b, "settled after %d steps:%s\n", s.step-1, cond)
				break
			}
			for _, a := range p.Actions {
				switch a.Op {
				case deployment.Create:
					did = append(did, fmt.Sprintf("create %s=%d", s.name(a.RS), *a.RS.Spec.Replicas))
				case deployment.Update:
					for _, o := range s.rss {
						if o.Name == a.RS.Name && *o.Spec.Replicas != *a.RS.Spec.Replicas {
							did = append(did, fmt.Sprintf("scale %s %d->%d", s.name(o), *o.Spec.Replicas, *a.RS.Spec.Replicas))
						}
					}
				case deployment.Delete:
					did = append(did, "delete "+s.name(a.RS))
				}
			}
			for _, e := range p.Events {
				did = append(did, "event "+e.Reason)
			}
			s.apply(p)
			var spec int32
			for _, rs := range s.rss {
				spec += *rs.Spec.Replicas
			}
			s.react()
			var avail int32
			for _, rs := range s.rss {
				avail += rs.Status.AvailableReplicas
			}
			peak, low = max(peak, spec), min(low, avail)
			if spec > maxPods && !recreate {
				violations = append(violations, fmt.Sprintf("step %d: %d pods", s.step, spec))
			}
			if avail < minAvail && reached && !recreate {
				violations = append(violations, fmt.Sprintf("step %d: %d available", s.step, avail))
			}
			reached = reached || avail >= minAvail
			if len(did) == 0 {
				did = []string{"status"}
			}
			progress := ""
			if c := getProgressing(s.d); c != nil {
				progress = c.Reason
			}
			fmt.Fprintf(&b, "%2d: %-36s | %-40s | %s\n", s.step, strings.Join(did, ", "), s.summary(), progress)
		}
		fmt.Fprintf(&b, "peak %d pods, lowest %d available, revision %s", peak, low, s.d.Annotations[deployment.RevisionAnnotation])
		for _, v := range violations {
			fmt.Fprintf(&b, "\nVIOLATION %s", v)
			t.Errorf("%s: rollout bound broken: %s", c.Pos, v)
		}
		return b.String()
	})
}

func getProgressing(d *appsv1.Deployment) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
