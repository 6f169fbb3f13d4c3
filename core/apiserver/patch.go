package apiserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/skiffhq/skiff/sdk/api"
)

// msgApplyUnsupported explains the answer to a server-side apply.
const msgApplyUnsupported = "server-side apply (application/apply-patch+yaml) is not supported by Skiff yet: " +
	"use client-side apply (kubectl apply without --server-side) or a merge, strategic merge or JSON patch"

// Patch applies a patch to an object (subresource "") or to its status
// (subresource "status"): it reads the object, applies the patch to its JSON
// form, decodes the result (strictly when opts.FieldValidation is Strict)
// and stores it with Update, conditional on the version it read. A lost
// race is retried from the read unless the patch itself names a
// resourceVersion, which makes it a precondition (409 on mismatch), or
// loses maxPatchRetries races in a row.
//
// Patch types: JSON patch, JSON merge patch and strategic merge patch;
// apply patches (server-side apply) get 415. A patch of an object that does
// not exist is a 404, as in Kubernetes.
func (s *Server) Patch(ctx context.Context, r *api.Resource, ns, name, subresource string, patchType types.PatchType, data []byte, opts metav1.PatchOptions) (Result, error) {
	if len(data) > maxRequestBody {
		return Result{}, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the patch is %d bytes, limit is %d", len(data), maxRequestBody))
	}
	switch subresource {
	case "":
	case "status":
		if !r.Status {
			return Result{}, apierrors.NewNotFound(r.GroupResource(), name+"/status")
		}
	default:
		return Result{}, apierrors.NewNotFound(r.GroupResource(), name+"/"+subresource)
	}
	if !r.Namespaced {
		ns = ""
	}
	uopts := metav1.UpdateOptions{DryRun: opts.DryRun, FieldManager: opts.FieldManager, FieldValidation: opts.FieldValidation}
	key := api.Key(r, ns, name)
	for attempt := 0; ; attempt++ {
		cur, rev, err := s.get(ctx, r, key, name)
		if err != nil {
			return Result{}, err
		}
		original, err := api.EncodeJSON(cur)
		if err != nil {
			return Result{}, apierrors.NewInternalError(err)
		}
		patched, err := ApplyPatch(original, patchType, data, r.New())
		if err != nil {
			return Result{}, err
		}
		next, err := DecodePatched(r, patched, opts.FieldValidation)
		if err != nil {
			return Result{}, err
		}
		m := accessor(next)
		// A patch that sets another resourceVersion makes it a precondition;
		// otherwise the update is conditional on the version read.
		precondition := m.GetResourceVersion() != "" && m.GetResourceVersion() != api.FormatRevision(rev)
		if !precondition {
			m.SetResourceVersion(api.FormatRevision(rev))
		}
		if m.GetName() != name {
			return Result{}, apierrors.NewBadRequest(fmt.Sprintf("the patch changes the name of the object from %s to %s", name, m.GetName()))
		}
		if r.Namespaced && m.GetNamespace() != ns {
			return Result{}, apierrors.NewBadRequest("the patch changes the namespace of the object")
		}
		res, err := s.Update(ctx, r, ns, name, subresource, next, uopts)
		if apierrors.IsConflict(err) && !precondition && attempt < maxPatchRetries && backoff(ctx, attempt) {
			continue
		}
		return res, err
	}
}

// maxPatchRetries bounds the retries of a patch that keeps losing
// compare-and-swap races. Kubernetes retries such patches until they
// succeed; a patch has to lose this many races in a row to fail with 409.
const maxPatchRetries = 256

// backoff waits before retry attempt+1 of a write that lost a race: not at
// all for the first few, then a short random time growing with attempt,
// so that many contending writers spread out. It returns false if ctx
// ended.
func backoff(ctx context.Context, attempt int) bool {
	if attempt < 3 {
		return ctx.Err() == nil
	}
	d := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ApplyPatch applies a patch of patchType to the JSON document original.
// dataStruct is an empty object of the document's Go type; strategic merge
// patches read their merge keys and strategies from its struct tags.
// Errors are Kubernetes errors: 400 for a malformed patch, 415 for an
// unsupported patch type, 422 when a JSON patch does not apply.
func ApplyPatch(original []byte, patchType types.PatchType, data []byte, dataStruct any) ([]byte, error) {
	var out []byte
	var err error
	switch patchType {
	case types.JSONPatchType:
		p, derr := jsonpatch.DecodePatch(data)
		if derr != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the JSON patch could not be decoded: %v", derr))
		}
		out, err = p.Apply(original)
		if err != nil {
			// The patch is well formed but does not apply (a failed test, a
			// missing path): 422, as Kubernetes answers.
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "patch", schema.GroupResource{}, "", err.Error(), 0, false)
		}
	case types.MergePatchType:
		out, err = jsonpatch.MergePatch(original, data)
	case types.StrategicMergePatchType:
		out, err = strategicpatch.StrategicMergePatch(original, data, dataStruct)
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		return nil, unsupportedMediaType(msgApplyUnsupported)
	default:
		return nil, unsupportedMediaType(fmt.Sprintf("the patch type %q is not supported: use %s, %s or %s",
			patchType, types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType))
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return out, nil
}

// DecodePatched decodes the result of a patch as an object of r, strictly
// when fieldValidation is Strict.
func DecodePatched(r *api.Resource, patched []byte, fieldValidation string) (runtime.Object, error) {
	var obj runtime.Object
	var err error
	if fieldValidation == metav1.FieldValidationStrict {
		obj, err = api.DecodeStrict(patched, r.New())
	} else {
		obj, err = api.Decode(patched, r.New())
	}
	if err != nil {
		if runtime.IsStrictDecodingError(err) {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the patched object could not be decoded as a %s: %v", r.Kind, err))
	}
	if err := checkKind(r, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func unsupportedMediaType(msg string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", schema.GroupResource{}, "", msg, 0, false)
}
