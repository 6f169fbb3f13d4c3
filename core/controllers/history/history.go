package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/skiffhq/skiff/core/controllers/owner"
)

// HashLabel is the label that ties pods (and revisions) to a revision:
// controller-revision-hash.
const HashLabel = appsv1.ControllerRevisionHashLabelKey

// DefaultLimit is revisionHistoryLimit when the spec leaves it unset.
const DefaultLimit = 10

// Limit is the revisionHistoryLimit of a spec's field: DefaultLimit when
// it is nil.
func Limit(field *int32) int32 {
	if field == nil {
		return DefaultLimit
	}
	return *field
}

// InUse is the set of revision hashes pods carry (their HashLabel), for
// Input.InUse. It never returns nil.
func InUse(pods []*corev1.Pod) map[string]bool {
	in := make(map[string]bool, len(pods))
	for _, p := range pods {
		in[p.Labels[HashLabel]] = true
	}
	return in
}

// Patch is the revision data for template: the strategic merge patch that
// replaces an object's spec.template with it.
func Patch(template *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}
	var t map[string]any
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}
	t["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": t}})
}

// Template decodes the pod template a revision holds.
func Template(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var v struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &v); err != nil {
		return nil, fmt.Errorf("decode revision %s: %w", rev.Name, err)
	}
	return &v.Spec.Template, nil
}

// Hash is the hash of revision data and a collision count, as a label
// value.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		h.Write([]byte(strconv.Itoa(int(*collisionCount))))
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Input is what Decide sees of one owner.
type Input struct {
	Owner metav1.Object
	Kind  schema.GroupVersionKind
	// Template is the owner's current pod template.
	Template *corev1.PodTemplateSpec
	// CollisionCount is the owner's status.collisionCount.
	CollisionCount *int32
	// Revisions are the ControllerRevisions the owner controls.
	Revisions []*appsv1.ControllerRevision
	// Limit is revisionHistoryLimit: how many old revisions to keep.
	Limit int32
	// InUse are the revision hashes live pods carry (their HashLabel);
	// those revisions are never deleted.
	InUse map[string]bool
}

// Plan is what to write.
type Plan struct {
	// Update is the revision of the current template.
	Update *appsv1.ControllerRevision
	// Create: Update is new; Renumber: Update exists but its .revision
	// must become the highest (an old template came back).
	Create, Renumber bool
	// CollisionCount is the owner's new status.collisionCount (changed
	// when a revision of the same name but other data was in the way).
	CollisionCount *int32
	// Delete are old revisions beyond the limit.
	Delete []*appsv1.ControllerRevision
}

// Sort orders revisions by .revision, then name.
func Sort(revs []*appsv1.ControllerRevision) {
	slices.SortStableFunc(revs, func(a, b *appsv1.ControllerRevision) int {
		if a.Revision != b.Revision {
			if a.Revision < b.Revision {
				return -1
			}
			return 1
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}

// Decide finds or makes the revision of the owner's template and picks
// the old revisions to delete.
func Decide(in Input) (Plan, error) {
	data, err := Patch(in.Template)
	if err != nil {
		return Plan{}, err
	}
	revs := slices.Clone(in.Revisions)
	Sort(revs)
	var max int64
	for _, r := range revs {
		max = maxInt(max, r.Revision)
	}
	plan := Plan{CollisionCount: in.CollisionCount}
	// Equal data: the newest such revision stands for the template.
	for i := len(revs) - 1; i >= 0; i-- {
		if bytes.Equal(revs[i].Data.Raw, data) || equalTemplates(revs[i], in.Template) {
			plan.Update = revs[i]
			if revs[i].Revision != max || countRevision(revs, max) > 1 {
				up := revs[i].DeepCopy()
				up.Revision = max + 1
				plan.Update, plan.Renumber = up, true
			}
			break
		}
	}
	if plan.Update == nil {
		cc := int32(0)
		if in.CollisionCount != nil {
			cc = *in.CollisionCount
		}
		for {
			name := in.Owner.GetName() + "-" + Hash(data, &cc)
			if !slices.ContainsFunc(revs, func(r *appsv1.ControllerRevision) bool { return r.Name == name }) {
				plan.Update = newRevision(in, name, Hash(data, &cc), data, max+1)
				plan.Create = true
				break
			}
			cc++ // a revision of that name with other data: a collision
		}
		if in.CollisionCount != nil || cc != 0 {
			plan.CollisionCount = &cc
		}
	}
	// History: old revisions no live pod uses, oldest first, beyond Limit.
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if r.Name == plan.Update.Name || in.InUse[r.Labels[HashLabel]] || in.InUse[r.Name] {
			continue
		}
		old = append(old, r)
	}
	if extra := len(old) - int(max32(in.Limit, 0)); extra > 0 {
		plan.Delete = old[:extra]
	}
	return plan, nil
}

func equalTemplates(rev *appsv1.ControllerRevision, t *corev1.PodTemplateSpec) bool {
	old, err := Template(rev)
	if err != nil {
		return false
	}
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(t)
	return bytes.Equal(a, b)
}

func countRevision(revs []*appsv1.ControllerRevision, n int64) int {
	c := 0
	for _, r := range revs {
		if r.Revision == n {
			c++
		}
	}
	return c
}

func newRevision(in Input, name, hash string, data []byte, number int64) *appsv1.ControllerRevision {
	labels := maps.Clone(in.Template.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[HashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: in.Owner.GetNamespace(), Labels: labels,
			OwnerReferences: []metav1.OwnerReference{owner.NewControllerRef(in.Owner, in.Kind)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: number,
	}
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func max32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}
