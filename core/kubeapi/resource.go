package kubeapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/sdk/api"
)

// nodeSubresources are the pod subresources a node agent serves: log
// (logs.go) and exec (exec.go); attach and port forwarding are not served
// yet and get a clear 503.
var nodeSubresources = map[string]string{"log": "logs", "exec": "exec", "attach": "attach", "portforward": "port forwarding"}

// serveNodeSubresource answers a node agent's subresource of an existing
// pod.
func (s *Server) serveNodeSubresource(w http.ResponseWriter, req *http.Request, rq request) error {
	switch rq.subresource {
	case "log":
		return s.serveLog(w, req, rq)
	case "exec":
		return s.serveExec(w, req, rq)
	}
	if _, err := s.api.Get(req.Context(), rq.r, rq.namespace, rq.name); err != nil {
		return err
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf("pods/%s: Skiff's node agents do not serve %s yet", rq.subresource, nodeSubresources[rq.subresource]))
}

// serveResourcePath serves a request under /api/v1 or /apis/<g>/<v>.
func (s *Server) serveResourcePath(w http.ResponseWriter, req *http.Request, gv schema.GroupVersion, segs []string) error {
	rq, err := parseResourcePath(gv, segs)
	if err != nil {
		return err
	}
	q := req.URL.Query()
	watching := rq.watchPath || q.Get("watch") == "true" || q.Get("watch") == "1"
	if rq.watchPath && req.Method != http.MethodGet {
		return apierrors.NewMethodNotSupported(rq.r.GroupResource(), strings.ToLower(req.Method))
	}
	if _, ok := nodeSubresources[rq.subresource]; ok && rq.r == api.Pods && rq.name != "" {
		return s.serveNodeSubresource(w, req, rq)
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case rq.name == "" && watching:
			return s.serveWatch(w, req, rq)
		case rq.name == "":
			if rq.subresource != "" {
				return errNotFound()
			}
			return s.serveList(w, req, rq)
		case watching:
			// A watch of one object: a watch with a name field selector.
			return s.serveWatchOne(w, req, rq)
		}
		return s.serveGet(w, req, rq)
	case http.MethodPost:
		switch {
		case rq.name == "":
			return s.serveCreate(w, req, rq)
		case rq.subresource == "binding" && rq.r == api.Pods:
			return s.serveBind(w, req, rq)
		}
		return apierrors.NewMethodNotSupported(rq.r.GroupResource(), "create")
	case http.MethodPut:
		if rq.name == "" {
			return apierrors.NewMethodNotSupported(rq.r.GroupResource(), "update")
		}
		if rq.subresource == "scale" {
			return s.serveScaleUpdate(w, req, rq)
		}
		return s.serveUpdate(w, req, rq)
	case http.MethodPatch:
		if rq.name == "" {
			return apierrors.NewMethodNotSupported(rq.r.GroupResource(), "patch")
		}
		return s.servePatch(w, req, rq)
	case http.MethodDelete:
		if rq.subresource != "" {
			return apierrors.NewMethodNotSupported(rq.r.GroupResource(), "delete")
		}
		if rq.name == "" {
			return s.serveDeleteCollection(w, req, rq)
		}
		return s.serveDelete(w, req, rq)
	}
	return apierrors.NewMethodNotSupported(rq.r.GroupResource(), strings.ToLower(req.Method))
}

// checkSubresource fails for a subresource r does not have (or one this
// verb does not serve).
func checkSubresource(rq request, allowed ...string) error {
	if rq.subresource == "" {
		return nil
	}
	for _, a := range allowed {
		if a != rq.subresource {
			continue
		}
		switch a {
		case "status":
			if rq.r.Status {
				return nil
			}
		case "scale":
			if scalable(rq.r) {
				return nil
			}
		default:
			return nil
		}
	}
	return apierrors.NewNotFound(rq.r.GroupResource(), rq.name+"/"+rq.subresource)
}

// paramCodec converts query parameters into the metav1 options, with the
// conversions Skiff's scheme registers for them.
var paramCodec = runtime.NewParameterCodec(api.Scheme())

// decodeParams decodes query parameters into one of the metav1 options.
func decodeParams(q url.Values, into runtime.Object) error {
	// The conversion ignores parameters it does not know.
	if err := paramCodec.DecodeParameters(q, schema.GroupVersion{Version: "v1"}, into); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

func (s *Server) serveGet(w http.ResponseWriter, req *http.Request, rq request) error {
	if err := checkSubresource(rq, "status", "scale"); err != nil {
		return err
	}
	if rq.subresource == "scale" {
		return s.serveScaleGet(w, req, rq)
	}
	t, err := negotiate(req, accepts{table: true, partial: true, noProtobuf: !api.HasProtobuf(rq.r.New())})
	if err != nil {
		return err
	}
	obj, err := s.api.Get(req.Context(), rq.r, rq.namespace, rq.name)
	if err != nil {
		return err
	}
	out, err := s.present(req, rq.r, t, []runtime.Object{obj}, false, metav1.ListMeta{})
	if err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusOK, t, out)
	return nil
}

func (s *Server) serveList(w http.ResponseWriter, req *http.Request, rq request) error {
	t, err := negotiate(req, accepts{table: true, partial: true, noProtobuf: !api.HasProtobuf(rq.r.New())})
	if err != nil {
		return err
	}
	var opts metav1.ListOptions
	if err := decodeParams(req.URL.Query(), &opts); err != nil {
		return err
	}
	res, err := s.api.List(req.Context(), rq.r, rq.namespace, opts, apiserver.ListConfig{Decode: true})
	if err != nil {
		return err
	}
	objs := make([]runtime.Object, len(res.Items))
	for i, it := range res.Items {
		objs[i] = it.Object
	}
	lm := metav1.ListMeta{ResourceVersion: api.FormatRevision(res.Revision), Continue: res.Continue, RemainingItemCount: res.Remaining}
	out, err := s.present(req, rq.r, t, objs, true, lm)
	if err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusOK, t, out)
	return nil
}

// present turns objects into the negotiated form: the object, a typed
// list, a Table, or partial object metadata.
func (s *Server) present(req *http.Request, r *api.Resource, t target, objs []runtime.Object, list bool, lm metav1.ListMeta) (any, error) {
	switch t.form {
	case formTable:
		include := metav1.IncludeMetadata
		switch v := metav1.IncludeObjectPolicy(req.URL.Query().Get("includeObject")); v {
		case "":
		case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
			include = v
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("includeObject must be one of None, Metadata or Object, not %q", v))
		}
		noHeaders := req.URL.Query().Get("noHeaders") == "true"
		tbl, err := toTable(r, objs, include, noHeaders)
		if err != nil {
			return nil, err
		}
		tbl.APIVersion = metav1.GroupName + "/" + t.version
		tbl.ListMeta = lm
		return tbl, nil
	case formPartial, formPartialList:
		gv := metav1.GroupName + "/" + t.version
		items := make([]metav1.PartialObjectMetadata, len(objs))
		for i, o := range objs {
			items[i] = partial(o, gv)
		}
		if !list {
			return &items[0], nil
		}
		return &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{APIVersion: gv, Kind: formPartialList}, ListMeta: lm, Items: items}, nil
	}
	if !list {
		if err := api.SetKind(objs[0]); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return objs[0], nil
	}
	return typedList(r, objs, lm)
}

// typedList builds r's list kind (PodList, ...) holding objs.
func typedList(r *api.Resource, objs []runtime.Object, lm metav1.ListMeta) (runtime.Object, error) {
	l := r.NewList()
	items := reflect.ValueOf(l).Elem().FieldByName("Items")
	if !items.IsValid() {
		panic("bug: list kind without Items: " + fmt.Sprintf("%T", l))
	}
	slice := reflect.MakeSlice(items.Type(), 0, len(objs))
	for _, o := range objs {
		// The list's items carry no apiVersion and kind, as in Kubernetes.
		o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
		slice = reflect.Append(slice, reflect.ValueOf(o).Elem())
	}
	items.Set(slice)
	lma, err := meta.ListAccessor(l)
	if err != nil {
		panic("bug: list without ListMeta: " + err.Error())
	}
	lma.SetResourceVersion(lm.ResourceVersion)
	lma.SetContinue(lm.Continue)
	lma.SetRemainingItemCount(lm.RemainingItemCount)
	if err := api.SetKind(l); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return l, nil
}

func partial(o runtime.Object, gv string) metav1.PartialObjectMetadata {
	m, _ := meta.Accessor(o)
	om := metav1.ObjectMeta{
		Name: m.GetName(), GenerateName: m.GetGenerateName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), Generation: m.GetGeneration(), CreationTimestamp: m.GetCreationTimestamp(),
		DeletionTimestamp: m.GetDeletionTimestamp(), DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(),
		Labels: m.GetLabels(), Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences(),
		Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
	}
	return metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: gv, Kind: formPartial}, ObjectMeta: om}
}

// writeResult writes an object the server stored.
func (s *Server) writeResult(w http.ResponseWriter, req *http.Request, code int, obj runtime.Object) error {
	t, err := negotiate(req, accepts{noProtobuf: !api.HasProtobuf(obj)})
	if err != nil {
		return err
	}
	if err := api.SetKind(obj); err != nil {
		return apierrors.NewInternalError(err)
	}
	s.writeObject(w, req, code, t, obj)
	return nil
}

func (s *Server) serveCreate(w http.ResponseWriter, req *http.Request, rq request) error {
	if rq.r.Namespaced && rq.namespace == "" {
		return apierrors.NewMethodNotSupported(rq.r.GroupResource(), "create")
	}
	var opts metav1.CreateOptions
	if err := decodeParams(req.URL.Query(), &opts); err != nil {
		return err
	}
	fv, err := fieldValidation(opts.FieldValidation)
	if err != nil {
		return err
	}
	obj, err := decodeObject(w, req, rq.r, nil, fv)
	if err != nil {
		return err
	}
	res, err := s.api.Create(req.Context(), rq.r, rq.namespace, obj, opts)
	if err != nil {
		return err
	}
	return s.writeResult(w, req, http.StatusCreated, res.Object)
}

func (s *Server) serveBind(w http.ResponseWriter, req *http.Request, rq request) error {
	var opts metav1.CreateOptions
	if err := decodeParams(req.URL.Query(), &opts); err != nil {
		return err
	}
	fv, err := fieldValidation(opts.FieldValidation)
	if err != nil {
		return err
	}
	obj, err := decodeObject(w, req, rq.r, &corev1.Binding{}, fv)
	if err != nil {
		return err
	}
	b, ok := obj.(*corev1.Binding)
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("the body of a pods/binding request must be a Binding, not %T", obj))
	}
	if b.Name != "" && b.Name != rq.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the binding (%s) does not match the pod on the URL (%s)", b.Name, rq.name))
	}
	if _, err := s.api.Bind(req.Context(), rq.namespace, rq.name, b, opts); err != nil {
		return err
	}
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated}
	s.writeObject(w, req, http.StatusCreated, target{mime: api.ContentTypeJSON}, st)
	return nil
}

func (s *Server) serveUpdate(w http.ResponseWriter, req *http.Request, rq request) error {
	if err := checkSubresource(rq, "status"); err != nil {
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
	obj, err := decodeObject(w, req, rq.r, nil, fv)
	if err != nil {
		return err
	}
	res, err := s.api.Update(req.Context(), rq.r, rq.namespace, rq.name, rq.subresource, obj, opts)
	if err != nil {
		return err
	}
	return s.writeResult(w, req, http.StatusOK, res.Object)
}

// patchType reads the patch type from the Content-Type header.
func patchType(req *http.Request) (types.PatchType, error) {
	ct := req.Header.Get("Content-Type")
	typ, _, err := mime.ParseMediaType(ct)
	pt := types.PatchType(typ)
	if err == nil {
		switch pt {
		case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
			return pt, nil
		}
	}
	return "", unsupportedMediaType(ct, string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType))
}

func (s *Server) servePatch(w http.ResponseWriter, req *http.Request, rq request) error {
	if err := checkSubresource(rq, "status", "scale"); err != nil {
		return err
	}
	pt, err := patchType(req)
	if err != nil {
		return err
	}
	var opts metav1.PatchOptions
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
	if rq.subresource == "scale" {
		return s.serveScalePatch(w, req, rq, pt, body, opts)
	}
	if fv == metav1.FieldValidationWarn {
		for _, f := range unknownPatchFields(rq.r, pt, body) {
			addWarning(w, f)
		}
	}
	opts.FieldValidation = fv
	res, err := s.api.Patch(req.Context(), rq.r, rq.namespace, rq.name, rq.subresource, pt, body, opts)
	if err != nil {
		return err
	}
	return s.writeResult(w, req, http.StatusOK, res.Object)
}

// unknownPatchFields lists the unknown fields a merge or strategic merge
// patch names (its $-directives aside), for fieldValidation=Warn. JSON
// patches are not inspected.
func unknownPatchFields(r *api.Resource, pt types.PatchType, body []byte) []string {
	if pt != types.MergePatchType && pt != types.StrategicMergePatchType {
		return nil
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil
	}
	clean, err := json.Marshal(stripDirectives(doc))
	if err != nil {
		return nil
	}
	_, err = api.DecodeStrict(clean, r.New())
	strict, ok := runtime.AsStrictDecodingError(err)
	if !ok {
		return nil
	}
	var out []string
	for _, e := range strict.Errors() {
		out = append(out, e.Error())
	}
	return out
}

// stripDirectives removes strategic merge patch directives ($patch,
// $setElementOrder/..., $retainKeys, ...) from a decoded patch.
func stripDirectives(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if strings.HasPrefix(k, "$") {
				delete(t, k)
				continue
			}
			t[k] = stripDirectives(e)
		}
	case []any:
		for i, e := range t {
			t[i] = stripDirectives(e)
		}
	}
	return v
}

// decodeOptionsBody decodes options (DeleteOptions) sent as a body, in
// JSON, YAML or protobuf, whatever group version the client put on them.
func decodeOptionsBody(body []byte, into interface{ Unmarshal([]byte) error }) error {
	if api.IsProtobuf(body) {
		var unk runtime.Unknown
		if err := unk.Unmarshal(body[4:]); err != nil {
			return err
		}
		return into.Unmarshal(unk.Raw)
	}
	js, err := yaml.YAMLToJSON(body)
	if err != nil {
		return err
	}
	return json.Unmarshal(js, into)
}

// deleteOptions reads DeleteOptions from the body, or else the query.
func deleteOptions(req *http.Request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := readBody(req)
	if err != nil {
		return opts, err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := decodeOptionsBody(body, &opts); err != nil {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("the body of a delete request must be a DeleteOptions: %v", err))
		}
		// dryRun may come in the query even with a body.
		if len(opts.DryRun) == 0 {
			opts.DryRun = req.URL.Query()["dryRun"]
		}
		return opts, nil
	}
	err = decodeParams(req.URL.Query(), &opts)
	return opts, err
}

func (s *Server) serveDelete(w http.ResponseWriter, req *http.Request, rq request) error {
	opts, err := deleteOptions(req)
	if err != nil {
		return err
	}
	res, err := s.api.Delete(req.Context(), rq.r, rq.namespace, rq.name, opts)
	if err != nil {
		return err
	}
	if !res.Gone || rq.r == api.Pods {
		// Still there (graceful deletion, finalizers), or a pod: the object.
		code := http.StatusOK
		if !res.Gone && opts.OrphanDependents != nil && !*opts.OrphanDependents { //nolint:staticcheck // Kubernetes answers 202 for this deprecated option
			code = http.StatusAccepted
		}
		return s.writeResult(w, req, code, res.Object)
	}
	m, _ := meta.Accessor(res.Object)
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess,
		Details: &metav1.StatusDetails{Name: rq.name, Group: rq.r.Group, Kind: rq.r.Resource, UID: m.GetUID()}}
	t, err := negotiate(req, accepts{})
	if err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusOK, t, st)
	return nil
}

func (s *Server) serveDeleteCollection(w http.ResponseWriter, req *http.Request, rq request) error {
	var lopts metav1.ListOptions
	if err := decodeParams(req.URL.Query(), &lopts); err != nil {
		return err
	}
	dopts, err := deleteOptions(req)
	if err != nil {
		return err
	}
	n, err := s.api.DeleteCollection(req.Context(), rq.r, rq.namespace, lopts, dopts)
	if err != nil {
		return err
	}
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess,
		Message: fmt.Sprintf("%d deleted", n), Details: &metav1.StatusDetails{Group: rq.r.Group, Kind: rq.r.Resource}}
	t, err := negotiate(req, accepts{})
	if err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusOK, t, st)
	return nil
}
