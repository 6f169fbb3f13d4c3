package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// WantMarker separates a scenario's input from its expected output.
const WantMarker = "--- want"

// Scenario is a parsed scenario file.
type Scenario struct {
	// Input is the file up to and including the want marker, verbatim.
	Input string
	// Want is the expected output (after the marker).
	Want string

	Config  scheduler.SimulateConfig
	Cluster scheduler.Cluster
	Pending []*corev1.Pod
	// Counts adds how many nodes each placed pod's cycle looked at.
	Counts bool
}

// Parse reads a scenario file.
func Parse(text string) (*Scenario, error) {
	input, want, found := strings.Cut(text, WantMarker+"\n")
	if !found {
		if strings.HasSuffix(text, WantMarker) {
			input, want = strings.TrimSuffix(text, WantMarker), ""
		}
		// A file without expectations yet: everything is input.
	}
	sc := &Scenario{Input: input + WantMarker + "\n", Want: want}
	p := parser{sc: sc, plugins: builtin.DefaultPlugins()}
	for _, line := range joinContinued(input) {
		if err := p.line(line.text); err != nil {
			return nil, fmt.Errorf("line %d: %w", line.no, err)
		}
	}
	sc.Config.Profiles = append([]framework.Profile{{SchedulerName: builtin.DefaultSchedulerName, Plugins: p.plugins}}, p.extra...)
	return sc, nil
}

type numbered struct {
	no   int
	text string
}

// joinContinued drops comments and blank lines and appends lines that
// start with white space to the line before.
func joinContinued(text string) []numbered {
	var out []numbered
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") || strings.TrimSpace(l) == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			out[len(out)-1].text += " " + strings.TrimSpace(l)
			continue
		}
		out = append(out, numbered{i + 1, strings.TrimSpace(l)})
	}
	return out
}

type parser struct {
	sc      *Scenario
	plugins []framework.PluginConfig // the default profile's
	extra   []framework.Profile      // profiles the file defines
}

// fields splits a line into words and the YAML fragment that starts at
// the first "{".
func fields(line string) (words []string, fragment string) {
	if i := strings.Index(line, "{"); i >= 0 {
		line, fragment = line[:i], line[i:]
	}
	return strings.Fields(line), fragment
}

func (p *parser) line(line string) error {
	words, frag := fields(line)
	if len(words) == 0 {
		return errors.New("a line must start with a directive")
	}
	args := words[1:]
	switch words[0] {
	case "node":
		return p.node(args, frag)
	case "nodes":
		return p.nodes(args, frag)
	case "pod":
		return p.pod(args, frag)
	case "namespace":
		return p.namespace(args)
	case "explain":
		p.sc.Config.Explain = true
	case "counts":
		p.sc.Counts = true
	case "seed":
		n, err := strconv.ParseUint(one(args), 10, 64)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		p.sc.Config.Seed = n
	case "percentage":
		n, err := strconv.ParseInt(one(args), 10, 32)
		if err != nil {
			return fmt.Errorf("percentage: %w", err)
		}
		p.sc.Config.PercentageOfNodesToScore = int32(n)
	case "profile":
		if len(args) != 1 {
			return errors.New("profile NAME")
		}
		p.extra = append(p.extra, framework.Profile{SchedulerName: args[0]})
	case "plugin":
		if len(args) < 1 {
			return errors.New("plugin NAME [weight=N] [{args}]")
		}
		if len(p.extra) == 0 {
			return errors.New("plugin outside a profile (use args/weight/disable to change the default profile)")
		}
		pc := framework.PluginConfig{Name: args[0]}
		for _, a := range args[1:] {
			v, ok := strings.CutPrefix(a, "weight=")
			if !ok {
				return fmt.Errorf("plugin %s: unknown attribute %q", pc.Name, a)
			}
			w, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return fmt.Errorf("plugin %s: weight: %w", pc.Name, err)
			}
			pc.Weight = int32(w)
		}
		if frag != "" {
			js, err := yaml.YAMLToJSON([]byte(frag))
			if err != nil {
				return fmt.Errorf("plugin %s: args: %w", pc.Name, err)
			}
			pc.Args = json.RawMessage(js)
		}
		last := &p.extra[len(p.extra)-1]
		last.Plugins = append(last.Plugins, pc)
	case "args", "weight", "disable":
		if len(args) < 1 {
			return fmt.Errorf("%s: want a plugin name", words[0])
		}
		i := slices.IndexFunc(p.plugins, func(pc framework.PluginConfig) bool { return pc.Name == args[0] })
		if i < 0 {
			return fmt.Errorf("%s: the default profile has no plugin %s", words[0], args[0])
		}
		switch words[0] {
		case "disable":
			p.plugins = slices.Delete(p.plugins, i, i+1)
		case "weight":
			w, err := strconv.ParseInt(one(args[1:]), 10, 32)
			if err != nil {
				return fmt.Errorf("weight %s: %w", args[0], err)
			}
			p.plugins[i].Weight = int32(w)
		case "args":
			js, err := yaml.YAMLToJSON([]byte(frag))
			if err != nil || frag == "" {
				return fmt.Errorf("args %s: want a {yaml} fragment: %v", args[0], err)
			}
			p.plugins[i].Args = json.RawMessage(js)
		}
	default:
		return fmt.Errorf("unknown directive %q", words[0])
	}
	return nil
}

func one(args []string) string {
	if len(args) != 1 {
		return ""
	}
	return args[0]
}

func (p *parser) namespace(args []string) error {
	if len(args) < 1 {
		return errors.New("namespace NAME [labels=k=v,...]")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		if k != "labels" {
			return fmt.Errorf("namespace %s: unknown attribute %q", args[0], a)
		}
		l, err := keyValues(v)
		if err != nil {
			return err
		}
		ns.Labels = l
	}
	p.sc.Cluster.Namespaces = append(p.sc.Cluster.Namespaces, ns)
	return nil
}

// nodes makes COUNT nodes named PREFIX000...: "nodes 300 n cpu=4
// zones=a,b,c" (zones are given round robin as topology.kubernetes.io/zone).
func (p *parser) nodes(args []string, frag string) error {
	if len(args) < 2 {
		return errors.New("nodes COUNT PREFIX [attributes] [{spec}]")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return fmt.Errorf("nodes: count %q", args[0])
	}
	var zones []string
	rest := []string{}
	for _, a := range args[2:] {
		if z, ok := strings.CutPrefix(a, "zones="); ok {
			zones = strings.Split(z, ",")
			continue
		}
		rest = append(rest, a)
	}
	width := len(strconv.Itoa(n - 1))
	for i := range n {
		attrs := append([]string{fmt.Sprintf("%s%0*d", args[1], width, i)}, rest...)
		if len(zones) > 0 {
			attrs = append(attrs, "labels="+corev1.LabelTopologyZone+"="+zones[i%len(zones)])
		}
		if err := p.node(attrs, frag); err != nil {
			return err
		}
	}
	return nil
}

// node defaults: what a node that says nothing has.
var nodeDefaults = corev1.ResourceList{
	corev1.ResourceCPU:              resource.MustParse("4"),
	corev1.ResourceMemory:           resource.MustParse("16Gi"),
	corev1.ResourcePods:             resource.MustParse("110"),
	corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
}

func (p *parser) node(args []string, frag string) error {
	if len(args) < 1 {
		return errors.New("node NAME [attributes] [{spec}]")
	}
	name := args[0]
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}
	alloc := corev1.ResourceList{}
	for k, v := range nodeDefaults {
		alloc[k] = v
	}
	for _, a := range args[1:] {
		k, v, hasValue := strings.Cut(a, "=")
		switch {
		case k == "unschedulable" && !hasValue:
			n.Spec.Unschedulable = true
		case k == "labels":
			l, err := keyValues(v)
			if err != nil {
				return err
			}
			for lk, lv := range l {
				n.Labels[lk] = lv
			}
		case k == "taints":
			for _, t := range strings.Split(v, ",") {
				taint, err := parseTaint(t)
				if err != nil {
					return fmt.Errorf("node %s: %w", name, err)
				}
				n.Spec.Taints = append(n.Spec.Taints, taint)
			}
		case k == "images":
			for _, img := range strings.Split(v, ",") {
				iname, size, ok := strings.Cut(img, "@")
				if !ok {
					return fmt.Errorf("node %s: image %q: want name@size", name, img)
				}
				q, err := resource.ParseQuantity(size)
				if err != nil {
					return fmt.Errorf("node %s: image %q: %w", name, img, err)
				}
				n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{iname}, SizeBytes: q.Value()})
			}
		case hasValue && isResource(k):
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return fmt.Errorf("node %s: %s: %w", name, k, err)
			}
			alloc[corev1.ResourceName(k)] = q
		default:
			return fmt.Errorf("node %s: unknown attribute %q", name, a)
		}
	}
	n.Status.Capacity, n.Status.Allocatable = alloc.DeepCopy(), alloc
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if frag != "" {
		if err := merge(frag, &n.Spec); err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
	}
	p.sc.Cluster.Nodes = append(p.sc.Cluster.Nodes, n)
	return nil
}

func isResource(k string) bool {
	switch corev1.ResourceName(k) {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage:
		return true
	}
	return strings.Contains(k, "/") || strings.HasPrefix(k, corev1.ResourceHugePagesPrefix)
}

// parseTaint reads key[=value]:Effect.
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("taint %q: want key[=value]:Effect", s)
	}
	k, v, _ := strings.Cut(kv, "=")
	return corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)}, nil
}

// parseToleration reads key=value[:Effect] (Equal), key[:Effect]
// (Exists) or "*" (everything).
func parseToleration(s string) corev1.Toleration {
	if s == "*" {
		return corev1.Toleration{Operator: corev1.TolerationOpExists}
	}
	kv, effect, _ := strings.Cut(s, ":")
	k, v, eq := strings.Cut(kv, "=")
	t := corev1.Toleration{Key: k, Effect: corev1.TaintEffect(effect), Operator: corev1.TolerationOpExists}
	if eq {
		t.Operator, t.Value = corev1.TolerationOpEqual, v
	}
	return t
}

func (p *parser) pod(args []string, frag string) error {
	if len(args) < 1 {
		return errors.New("pod [NAMESPACE/]NAME [attributes] [{spec}]")
	}
	ns, name, ok := strings.Cut(args[0], "/")
	if !ok {
		ns, name = metav1.NamespaceDefault, args[0]
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{SchedulerName: builtin.DefaultSchedulerName,
			Containers: []corev1.Container{{Name: "c", Image: "app:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	c := &pod.Spec.Containers[0]
	running := false
	for _, a := range args[1:] {
		k, v, hasValue := strings.Cut(a, "=")
		var err error
		switch {
		case k == "deleting" && !hasValue:
			now := metav1.Now()
			pod.DeletionTimestamp = &now
		case k == "on":
			pod.Spec.NodeName, pod.Status.Phase, running = v, corev1.PodRunning, true
		case k == "phase":
			pod.Status.Phase = corev1.PodPhase(v)
		case k == "nominated":
			pod.Status.NominatedNodeName = v
		case k == "labels":
			pod.Labels, err = keyValues(v)
		case k == "selector":
			pod.Spec.NodeSelector, err = keyValues(v)
		case k == "scheduler":
			pod.Spec.SchedulerName = v
		case k == "image":
			c.Image = v
		case k == "priority":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			pod.Spec.Priority = ptr(int32(n))
		case k == "tolerations":
			for _, t := range strings.Split(v, ",") {
				pod.Spec.Tolerations = append(pod.Spec.Tolerations, parseToleration(t))
			}
		case k == "ports":
			for _, ps := range strings.Split(v, ",") {
				var port corev1.ContainerPort
				port, err = parsePort(ps)
				c.Ports = append(c.Ports, port)
			}
		case hasValue && isResource(k):
			var q resource.Quantity
			q, err = resource.ParseQuantity(v)
			if c.Resources.Requests == nil {
				c.Resources.Requests = corev1.ResourceList{}
			}
			c.Resources.Requests[corev1.ResourceName(k)] = q
		default:
			err = fmt.Errorf("unknown attribute %q", a)
		}
		if err != nil {
			return fmt.Errorf("pod %s: %w", args[0], err)
		}
	}
	if frag != "" {
		if err := merge(frag, &pod.Spec); err != nil {
			return fmt.Errorf("pod %s: %w", args[0], err)
		}
	}
	if running && pod.Status.NominatedNodeName != "" {
		return fmt.Errorf("pod %s: a running pod is nominated nowhere", args[0])
	}
	if running {
		p.sc.Cluster.Pods = append(p.sc.Cluster.Pods, pod)
	} else {
		p.sc.Pending = append(p.sc.Pending, pod)
	}
	return nil
}

// parsePort reads hostPort[/PROTOCOL][@hostIP].
func parsePort(s string) (corev1.ContainerPort, error) {
	s, ip, _ := strings.Cut(s, "@")
	s, proto, _ := strings.Cut(s, "/")
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return corev1.ContainerPort{}, fmt.Errorf("port %q: %w", s, err)
	}
	return corev1.ContainerPort{ContainerPort: int32(n), HostPort: int32(n), Protocol: corev1.Protocol(proto), HostIP: ip}, nil
}

// keyValues reads k=v,k=v.
func keyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// merge decodes a YAML fragment over into (fields it names replace
// those of into).
func merge(frag string, into any) error {
	js, err := yaml.YAMLToJSON([]byte(frag))
	if err != nil {
		return fmt.Errorf("fragment: %w", err)
	}
	d := json.NewDecoder(strings.NewReader(string(js)))
	d.DisallowUnknownFields()
	if err := d.Decode(into); err != nil {
		return fmt.Errorf("fragment: %w", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// Run simulates the scenario and returns its output in the want format.
func Run(ctx context.Context, sc *Scenario) (string, error) {
	placements, err := scheduler.Simulate(ctx, sc.Config, sc.Cluster, sc.Pending)
	if err != nil {
		return "", err
	}
	return Format(placements, sc.Counts), nil
}

// Format writes placements one per line, "pod: node" or "pod:
// unschedulable: message", with each scored node below a placed pod when
// scores were kept, and with counts how many nodes were filtered.
func Format(placements []scheduler.Placement, counts bool) string {
	var b strings.Builder
	for _, pl := range placements {
		name := pl.Pod.Name
		if pl.Pod.Namespace != metav1.NamespaceDefault {
			name = pl.Pod.Namespace + "/" + name
		}
		switch {
		case pl.Err != nil:
			var fe *framework.FitError
			var rj *framework.Rejection
			switch {
			case errors.As(pl.Err, &fe):
				fmt.Fprintf(&b, "%s: unschedulable: %s\n", name, fe.Error())
			case errors.As(pl.Err, &rj):
				fmt.Fprintf(&b, "%s: %s by %s: %s\n", name, strings.ToLower(rj.Point), rj.Plugin, rj.Status.Message())
			default:
				fmt.Fprintf(&b, "%s: error: %v\n", name, pl.Err)
			}
		default:
			fmt.Fprintf(&b, "%s: %s", name, pl.Node)
			if counts {
				fmt.Fprintf(&b, " (%d nodes filtered, %d feasible)", pl.Evaluated, pl.Feasible)
			}
			if len(pl.WaitingOn) > 0 {
				fmt.Fprintf(&b, " (waiting on %s)", strings.Join(pl.WaitingOn, ", "))
			}
			b.WriteString("\n")
		}
		for _, s := range pl.Scores {
			parts := make([]string, len(s.Plugins))
			for i, ps := range s.Plugins {
				if ps.Weight == 1 {
					parts[i] = fmt.Sprintf("%s %d", ps.Plugin, ps.Score)
				} else {
					parts[i] = fmt.Sprintf("%s %d×%d", ps.Plugin, ps.Score, ps.Weight)
				}
			}
			fmt.Fprintf(&b, "    %s %d: %s\n", s.Name, s.Total, strings.Join(parts, ", "))
		}
	}
	return b.String()
}
