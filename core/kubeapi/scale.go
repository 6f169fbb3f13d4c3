package kubeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/sdk/api"
)

// scaleGVK is the kind of the scale subresource.
var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// maxScaleRetries bounds the retries of a scale write that keeps losing
// races with other writers.
const maxScaleRetries = 256

// retryPause waits before retry attempt+1 of a write that lost a race:
// not at all for the first few, then a short random time growing with
// attempt. It returns false if ctx ended.
func retryPause(ctx context.Context, attempt int) bool {
	if attempt < 3 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond))))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// scalable reports whether r has the scale subresource.
func scalable(r *api.Resource) bool {
	return r == api.Deployments || r == api.ReplicaSets || r == api.StatefulSets
}

// toScale is the Scale view of a scalable object.
func toScale(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var (
		om       metav1.ObjectMeta
		replicas *int32
		current  int32
		selector *metav1.LabelSelector
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		om, replicas, current, selector = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas, o.Spec.Selector
	case *appsv1.ReplicaSet:
		om, replicas, current, selector = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas, o.Spec.Selector
	case *appsv1.StatefulSet:
		om, replicas, current, selector = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas, o.Spec.Selector
	default:
		return nil, fmt.Errorf("%T has no scale subresource", obj)
	}
	sc := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: scaleGVK.GroupVersion().String(), Kind: scaleGVK.Kind},
		ObjectMeta: metav1.ObjectMeta{Name: om.Name, Namespace: om.Namespace, UID: om.UID,
			ResourceVersion: om.ResourceVersion, CreationTimestamp: om.CreationTimestamp},
		Status: autoscalingv1.ScaleStatus{Replicas: current},
	}
	if replicas != nil {
		sc.Spec.Replicas = *replicas
	} else {
		sc.Spec.Replicas = 1
	}
	if selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err == nil {
			sc.Status.Selector = sel.String()
		}
	}
	return sc, nil
}

func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	}
}

func (s *Server) serveScaleGet(w http.ResponseWriter, req *http.Request, rq request) error {
	obj, err := s.api.Get(req.Context(), rq.r, rq.namespace, rq.name)
	if err != nil {
		return err
	}
	sc, err := toScale(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	return s.writeScale(w, req, http.StatusOK, sc)
}

func (s *Server) writeScale(w http.ResponseWriter, req *http.Request, code int, sc *autoscalingv1.Scale) error {
	t, err := negotiate(req, accepts{})
	if err != nil {
		return err
	}
	if t.mime == api.ContentTypeProtobuf {
		info, _ := runtime.SerializerInfoForMediaType(scaleCodecs.SupportedMediaTypes(), api.ContentTypeProtobuf)
		body, err := runtime.Encode(info.Serializer, sc)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		w.Header().Set("Content-Type", api.ContentTypeProtobuf)
		w.WriteHeader(code)
		_, _ = w.Write(body)
		return nil
	}
	s.writeObject(w, req, code, t, sc)
	return nil
}

// scaleCodecs encode and decode autoscaling/v1 Scale, which Skiff's
// scheme (the stored kinds) does not hold.
var scaleCodecs = func() serializer.CodecFactory {
	sch := runtime.NewScheme()
	if err := autoscalingv1.AddToScheme(sch); err != nil {
		panic("bug: scale scheme: " + err.Error())
	}
	return serializer.NewCodecFactory(sch, serializer.EnableStrict)
}()

// decodeScale decodes a Scale from JSON, YAML or protobuf; Strict
// validation rejects unknown and duplicate fields.
func decodeScale(body []byte, validation string) (*autoscalingv1.Scale, error) {
	var sc autoscalingv1.Scale
	_, gvk, err := scaleCodecs.UniversalDeserializer().Decode(body, &scaleGVK, &sc)
	lenient := runtime.IsStrictDecodingError(err) && validation != metav1.FieldValidationStrict
	if err != nil && !lenient {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("Scale in version %q cannot be handled as a Scale: %v", "v1", err))
	}
	if gvk != nil && *gvk != scaleGVK {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body is a %s, not an autoscaling/v1 Scale", gvk))
	}
	sc.TypeMeta = metav1.TypeMeta{APIVersion: scaleGVK.GroupVersion().String(), Kind: scaleGVK.Kind}
	return &sc, nil
}

func (s *Server) serveScaleUpdate(w http.ResponseWriter, req *http.Request, rq request) error {
	if err := checkSubresource(rq, "scale"); err != nil {
		return err
	}
	var opts metav1.UpdateOptions
	if err := decodeParams(req.URL.Query(), &opts); err != nil {
		return err
	}
	fv, err := fieldValidation(opts.FieldValidation)
	if err != nil {
		return err
	}
	body, err := readBody(req)
	if err != nil {
		return err
	}
	sc, err := decodeScale(body, fv)
	if err != nil {
		return err
	}
	if sc.Name != "" && sc.Name != rq.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", sc.Name, rq.name))
	}
	res, err := s.scaleTo(req.Context(), rq, func(*autoscalingv1.Scale) (*autoscalingv1.Scale, bool, error) {
		return sc, sc.ResourceVersion != "", nil
	}, opts)
	if err != nil {
		return err
	}
	return s.writeScale(w, req, http.StatusOK, res)
}

func (s *Server) serveScalePatch(w http.ResponseWriter, req *http.Request, rq request, pt types.PatchType, body []byte, opts metav1.PatchOptions) error {
	uopts := metav1.UpdateOptions{DryRun: opts.DryRun, FieldManager: opts.FieldManager}
	res, err := s.scaleTo(req.Context(), rq, func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, bool, error) {
		orig, err := json.Marshal(cur)
		if err != nil {
			return nil, false, apierrors.NewInternalError(err)
		}
		patched, err := apiserver.ApplyPatch(orig, pt, body, &autoscalingv1.Scale{})
		if err != nil {
			return nil, false, err
		}
		want, err := decodeScale(patched, opts.FieldValidation)
		if err != nil {
			return nil, false, err
		}
		// A patch that sets resourceVersion makes it a precondition.
		return want, want.ResourceVersion != cur.ResourceVersion, nil
	}, uopts)
	if err != nil {
		return err
	}
	return s.writeScale(w, req, http.StatusOK, res)
}

// scaleTo reads the object, asks next for the desired Scale given the
// current one, and writes the new replica count. When next reports a
// precondition, the desired Scale's resourceVersion must match (409
// otherwise); without one a lost race is retried.
func (s *Server) scaleTo(ctx context.Context, rq request, next func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, bool, error), opts metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	for attempt := 0; ; attempt++ {
		obj, err := s.api.Get(ctx, rq.r, rq.namespace, rq.name)
		if err != nil {
			return nil, err
		}
		cur, err := toScale(obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		want, precondition, err := next(cur)
		if err != nil {
			return nil, err
		}
		if precondition && want.ResourceVersion != cur.ResourceVersion {
			return nil, apierrors.NewConflict(rq.r.GroupResource(), rq.name, errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		if want.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: scaleGVK.Group, Kind: scaleGVK.Kind}, rq.name,
				field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), want.Spec.Replicas, "must be greater than or equal to 0")})
		}
		setReplicas(obj, want.Spec.Replicas)
		res, err := s.api.Update(ctx, rq.r, rq.namespace, rq.name, "", obj, opts)
		if apierrors.IsConflict(err) && !precondition && attempt < maxScaleRetries && retryPause(ctx, attempt) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return toScale(res.Object)
	}
}
