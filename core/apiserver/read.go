package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/sdk/api"
)

// get reads and decodes one object, setting its resourceVersion.
func (s *Server) get(ctx context.Context, r *api.Resource, key, name string) (runtime.Object, uint64, error) {
	e, err := s.store.Get(ctx, key)
	if err != nil {
		return nil, 0, storeError(err, r, name)
	}
	obj, err := api.Decode(e.Value, r.New())
	if err != nil {
		return nil, 0, apierrors.NewInternalError(fmt.Errorf("decode %s: %w", key, err))
	}
	accessor(obj).SetResourceVersion(api.FormatRevision(e.Revision))
	return obj, e.Revision, nil
}

// Get returns one object.
func (s *Server) Get(ctx context.Context, r *api.Resource, ns, name string) (runtime.Object, error) {
	obj, _, err := s.get(ctx, r, api.Key(r, ns, name), name)
	return obj, err
}

// GetRaw returns one object's stored encoding and revision, undecoded.
func (s *Server) GetRaw(ctx context.Context, r *api.Resource, ns, name string) ([]byte, uint64, error) {
	e, err := s.store.Get(ctx, api.Key(r, ns, name))
	if err != nil {
		return nil, 0, storeError(err, r, name)
	}
	return e.Value, e.Revision, nil
}

// Item is one object of a list: its stored encoding and revision, and the
// decoded object when the server had to decode it (selectors) or was asked
// to.
type Item struct {
	Raw      []byte
	Revision uint64
	Object   runtime.Object
}

// ListResult is one page of a list.
type ListResult struct {
	Items    []Item
	Revision uint64
	// Continue is the token for the next page, "" on the last page.
	Continue string
	// Remaining counts the objects after this page, when known.
	Remaining *int64
}

// continueToken is what a continue string encodes.
type continueToken struct {
	Rev   uint64 `json:"rev"`
	After string `json:"after"`
}

func encodeContinue(t continueToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Rev == 0 {
		return t, apierrors.NewBadRequest("continue key is not valid: " + s)
	}
	return t, nil
}

// ListConfig adds what the caller needs beyond metav1.ListOptions.
type ListConfig struct {
	// Decode asks for every item's Object, even without selectors.
	Decode bool
	// MaxBytes ends a page early once its items' encodings exceed it.
	MaxBytes int
}

// List returns the objects of r in ns ("" for every namespace) that match
// the label and field selectors, sorted by namespace and name, one page at
// a time when opts.Limit is set.
func (s *Server) List(ctx context.Context, r *api.Resource, ns string, opts metav1.ListOptions, cfg ListConfig) (ListResult, error) {
	lsel, fsel, err := selectors(r, opts)
	if err != nil {
		return ListResult{}, err
	}
	var tok continueToken
	if opts.Continue != "" {
		if tok, err = decodeContinue(opts.Continue); err != nil {
			return ListResult{}, err
		}
		if cr, err := s.store.CompactRevision(ctx); err == nil && tok.Rev < cr {
			return ListResult{}, apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
		}
	}
	snap, err := s.store.List(ctx, api.KeyPrefix(r, ns))
	if err != nil {
		return ListResult{}, storeError(err, r, "")
	}
	if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		want, err := api.ParseRevision(opts.ResourceVersion)
		if err != nil {
			return ListResult{}, apierrors.NewBadRequest(err.Error())
		}
		if want > snap.Revision {
			return ListResult{}, apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, snap.Revision), 1)
		}
	}
	entries := snap.Entries
	rev := snap.Revision
	if opts.Continue != "" {
		// Serve the rest of the snapshot of the first page. The store keeps
		// only the latest values, so if anything after the token changed
		// since that snapshot the page cannot be consistent: 410, relist.
		i := sort.Search(len(entries), func(i int) bool { return entries[i].Key > tok.After })
		entries = entries[i:]
		changed := false
		for _, e := range entries {
			changed = changed || e.Revision > tok.Rev
		}
		for _, d := range snap.Deleted {
			changed = changed || d.Key > tok.After && d.Revision > tok.Rev
		}
		if changed {
			return ListResult{}, apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result: objects changed since the first page. You can start a new list without the continue parameter.")
		}
		rev = tok.Rev
	}
	filter := !lsel.Empty() || !fsel.Empty()
	out := ListResult{Revision: rev}
	size := 0
	for i, e := range entries {
		it := Item{Raw: e.Value, Revision: e.Revision}
		if filter || cfg.Decode {
			obj, err := api.Decode(e.Value, r.New())
			if err != nil {
				return ListResult{}, apierrors.NewInternalError(fmt.Errorf("decode %s: %w", e.Key, err))
			}
			if filter && !matches(r, obj, lsel, fsel) {
				continue
			}
			accessor(obj).SetResourceVersion(api.FormatRevision(e.Revision))
			it.Object = obj
		}
		full := opts.Limit > 0 && int64(len(out.Items)) >= opts.Limit || cfg.MaxBytes > 0 && size > 0 && size+len(e.Value) > cfg.MaxBytes
		if full {
			out.Continue = encodeContinue(continueToken{Rev: rev, After: entries[i-1].Key})
			if !filter {
				left := int64(len(entries) - i)
				out.Remaining = &left
			}
			break
		}
		size += len(e.Value)
		out.Items = append(out.Items, it)
	}
	return out, nil
}

type (
	labelsSelector = labels.Selector
	fieldsSelector = fields.Selector
)

// selectors parses the request's label and field selectors; field
// selectors may name only the fields r supports.
func selectors(r *api.Resource, opts metav1.ListOptions) (labels.Selector, fields.Selector, error) {
	lsel, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	fsel, err := fields.ParseSelector(opts.FieldSelector)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
	}
	allowed := fieldSet(r, r.New())
	for _, req := range fsel.Requirements() {
		if _, ok := allowed[req.Field]; !ok {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
		}
	}
	return lsel, fsel, nil
}

func matches(r *api.Resource, obj runtime.Object, lsel labels.Selector, fsel fields.Selector) bool {
	m := accessor(obj)
	if !lsel.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	return fsel.Empty() || fsel.Matches(fieldSet(r, obj))
}

// fieldSet is the set of fields a field selector may use on obj, as
// Kubernetes defines them per kind.
func fieldSet(r *api.Resource, obj runtime.Object) fields.Set {
	m := accessor(obj)
	set := fields.Set{"metadata.name": m.GetName()}
	if r.Namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		set["spec.nodeName"] = o.Spec.NodeName
		set["spec.restartPolicy"] = string(o.Spec.RestartPolicy)
		set["spec.schedulerName"] = o.Spec.SchedulerName
		set["spec.serviceAccountName"] = o.Spec.ServiceAccountName
		set["spec.hostNetwork"] = fmt.Sprint(o.Spec.HostNetwork)
		set["status.phase"] = string(o.Status.Phase)
		set["status.podIP"] = o.Status.PodIP
		set["status.nominatedNodeName"] = o.Status.NominatedNodeName
	case *corev1.Node:
		set["spec.unschedulable"] = fmt.Sprint(o.Spec.Unschedulable)
	case *corev1.Namespace:
		set["status.phase"] = string(o.Status.Phase)
	case *corev1.Secret:
		set["type"] = string(o.Type)
	case *corev1.Event:
		set["involvedObject.kind"] = o.InvolvedObject.Kind
		set["involvedObject.namespace"] = o.InvolvedObject.Namespace
		set["involvedObject.name"] = o.InvolvedObject.Name
		set["involvedObject.uid"] = string(o.InvolvedObject.UID)
		set["involvedObject.apiVersion"] = o.InvolvedObject.APIVersion
		set["involvedObject.resourceVersion"] = o.InvolvedObject.ResourceVersion
		set["involvedObject.fieldPath"] = o.InvolvedObject.FieldPath
		set["reason"] = o.Reason
		set["reportingComponent"] = o.ReportingController
		set["source"] = o.Source.Component
		set["type"] = o.Type
	}
	return set
}
