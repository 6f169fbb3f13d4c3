package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/sdk/api"
)

// MaxPods bounds the pods of one plan.
const MaxPods = 10_000

// Request is what skiff plan asks: the pods, in order.
type Request struct {
	Pods []corev1.Pod `json:"pods"`
}

// Response is the scheduler's answer, one entry per pod in the order
// they were tried (priority first, then the request's order).
type Response struct {
	// Replica is the scheduler that answered; Nodes how many nodes it saw.
	Replica string    `json:"replica"`
	Nodes   int       `json:"nodes"`
	Pods    []PodPlan `json:"pods"`
	// Error is set, and Pods empty, when the scheduler could not plan.
	Error string `json:"error,omitempty"`
}

// PodPlan is where one pod would go, and why.
type PodPlan struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Node is where it would be bound, "" if nowhere.
	Node string `json:"node,omitempty"`
	// Reason says why it would not be bound (the Kubernetes message).
	Reason string `json:"reason,omitempty"`
	// WaitingOn are Permit plugins that would hold it.
	WaitingOn []string `json:"waitingOn,omitempty"`
	// Evaluated and Feasible count the nodes filtered and passed.
	Evaluated int `json:"evaluated"`
	Feasible  int `json:"feasible"`
	// Scores are the feasible nodes, best first, with each plugin's
	// normalized score and weight.
	Scores []NodeScore `json:"scores,omitempty"`
	// Rejected are the nodes a Filter plugin turned down.
	Rejected []Rejection `json:"rejected,omitempty"`
}

// NodeScore is one node's total and per-plugin scores.
type NodeScore struct {
	Node    string        `json:"node"`
	Total   int64         `json:"total"`
	Plugins []PluginScore `json:"plugins,omitempty"`
}

// PluginScore is a plugin's normalized score of a node, and its weight.
type PluginScore struct {
	Plugin string `json:"plugin"`
	Score  int64  `json:"score"`
	Weight int64  `json:"weight"`
}

// Rejection is a node a Filter plugin turned down, and why.
type Rejection struct {
	Node   string `json:"node"`
	Plugin string `json:"plugin"`
	Reason string `json:"reason"`
}

// ErrNoScheduler is returned by Ask when no scheduler leads.
var ErrNoScheduler = errors.New("no scheduler is leading (is the control plane up?)")

// Pods decodes a manifest (YAML or JSON documents, or a List) into the
// pods it would create. Objects of other kinds are skipped and named in
// skipped. Pods without a namespace go to "default".
func Pods(manifest []byte) (pods []*corev1.Pod, skipped []string, err error) {
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		ps, sk, err := expand(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", doc, err)
		}
		pods, skipped = append(pods, ps...), append(skipped, sk...)
		if len(pods) > MaxPods {
			return nil, nil, fmt.Errorf("more than %d pods", MaxPods)
		}
	}
	if len(pods) == 0 {
		return nil, skipped, errors.New("the manifest has no Pod, Deployment, ReplicaSet, StatefulSet or Job")
	}
	return pods, skipped, nil
}

func expand(raw []byte) ([]*corev1.Pod, []string, error) {
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err == nil && list.Kind == "List" {
		var pods []*corev1.Pod
		var skipped []string
		for _, it := range list.Items {
			ps, sk, err := expand(it)
			if err != nil {
				return nil, nil, err
			}
			pods, skipped = append(pods, ps...), append(skipped, sk...)
		}
		return pods, skipped, nil
	}
	obj, err := api.DecodeStrict(raw, nil)
	if err != nil {
		var tm metav1.TypeMeta
		if json.Unmarshal(raw, &tm) == nil && tm.Kind != "" {
			if _, served := api.LookupKind(schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)); !served {
				return nil, []string{tm.Kind}, nil // a kind Skiff does not serve
			}
		}
		return nil, nil, err
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return []*corev1.Pod{withDefaults(o.DeepCopy(), o.Namespace)}, nil, nil
	case *appsv1.Deployment:
		return replicate(o.ObjectMeta, &o.Spec.Template, replicas(o.Spec.Replicas)), nil, nil
	case *appsv1.ReplicaSet:
		return replicate(o.ObjectMeta, &o.Spec.Template, replicas(o.Spec.Replicas)), nil, nil
	case *appsv1.StatefulSet:
		return replicate(o.ObjectMeta, &o.Spec.Template, replicas(o.Spec.Replicas)), nil, nil
	case *batchv1.Job:
		n := replicas(o.Spec.Parallelism)
		if c := o.Spec.Completions; c != nil && *c < n {
			n = *c
		}
		return replicate(o.ObjectMeta, &o.Spec.Template, n), nil, nil
	}
	return nil, []string{obj.GetObjectKind().GroupVersionKind().Kind}, nil
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func replicate(owner metav1.ObjectMeta, t *corev1.PodTemplateSpec, n int32) []*corev1.Pod {
	if n > MaxPods {
		n = MaxPods + 1 // Pods reports the excess
	}
	out := make([]*corev1.Pod, 0, n)
	for i := range n {
		p := &corev1.Pod{ObjectMeta: *t.ObjectMeta.DeepCopy(), Spec: *t.Spec.DeepCopy()}
		p.Name = fmt.Sprintf("%s-%d", owner.Name, i)
		out = append(out, withDefaults(p, owner.Namespace))
	}
	return out
}

func withDefaults(p *corev1.Pod, ns string) *corev1.Pod {
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	p.Namespace = ns
	if p.Spec.SchedulerName == "" {
		p.Spec.SchedulerName = corev1.DefaultSchedulerName
	}
	p.Spec.NodeName = ""
	return p
}

// Ask sends pods to the leading scheduler and returns its answer.
func Ask(ctx context.Context, conn *bus.Conn, pods []*corev1.Pod) (*Response, error) {
	req := Request{Pods: make([]corev1.Pod, len(pods))}
	for i, p := range pods {
		req.Pods[i] = *p
	}
	body, err := json.Marshal(&req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	m, err := conn.Request(ctx, &bus.Msg{Subject: subjects.SchedulerPlan(), Data: body})
	if err != nil {
		if errors.Is(err, bus.ErrNoResponders) {
			return nil, ErrNoScheduler
		}
		return nil, fmt.Errorf("plan: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return nil, fmt.Errorf("plan: bad answer: %w", err)
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("plan: %s", resp.Error)
	}
	return &resp, nil
}
