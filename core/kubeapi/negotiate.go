package kubeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/sdk/api"
)

// Response forms besides the object itself, chosen by the Accept header's
// "as" parameter.
const (
	formObject       = ""
	formTable        = "Table"
	formPartial      = "PartialObjectMetadata"
	formPartialList  = "PartialObjectMetadataList"
	formDiscoveryAgg = "APIGroupDiscoveryList"
)

// target is the negotiated response encoding.
type target struct {
	mime    string // api.ContentTypeJSON, api.ContentTypeYAML or api.ContentTypeProtobuf
	form    string
	version string // of the form's group (meta.k8s.io v1/v1beta1, apidiscovery v2)
}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	typ    string
	params map[string]string
	q      float64
}

func parseAccept(h string) []mediaRange {
	var out []mediaRange
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		typ, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		out = append(out, mediaRange{typ: typ, params: params, q: q})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].q > out[j].q })
	return out
}

// accepts lists the forms an endpoint can produce.
type accepts struct {
	table, partial, discovery bool
	// noProtobuf is set for responses that have no protobuf encoding.
	noProtobuf bool
}

// negotiate picks the response encoding from the Accept header. An
// unacceptable header is a 406.
func negotiate(req *http.Request, can accepts) (target, error) {
	h := req.Header.Get("Accept")
	if strings.TrimSpace(h) == "" {
		return target{mime: api.ContentTypeJSON}, nil
	}
	for _, m := range parseAccept(h) {
		var t target
		switch m.typ {
		case api.ContentTypeJSON, "application/*", "*/*", "*":
			t.mime = api.ContentTypeJSON
		case api.ContentTypeYAML:
			t.mime = api.ContentTypeYAML
		case api.ContentTypeProtobuf:
			if can.noProtobuf {
				continue
			}
			t.mime = api.ContentTypeProtobuf
		default:
			continue
		}
		as, g, v := m.params["as"], m.params["g"], m.params["v"]
		switch {
		case as == "":
		case as == formTable && g == metav1.GroupName && (v == "v1" || v == "v1beta1") && can.table && t.mime != api.ContentTypeProtobuf:
			t.form, t.version = formTable, v
		case (as == formPartial || as == formPartialList) && g == metav1.GroupName && (v == "v1" || v == "v1beta1") && can.partial && t.mime != api.ContentTypeProtobuf:
			t.form, t.version = as, v
		case as == formDiscoveryAgg && g == "apidiscovery.k8s.io" && v == "v2" && can.discovery && t.mime == api.ContentTypeJSON:
			t.form, t.version = formDiscoveryAgg, v
		default:
			continue
		}
		return t, nil
	}
	return target{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "",
		"only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf", 0, false)
}

// writeObject writes obj (whose apiVersion and kind are set) with code.
func (s *Server) writeObject(w http.ResponseWriter, req *http.Request, code int, t target, obj any) {
	body, err := encodeAs(t.mime, obj, req.URL.Query().Get("pretty") == "true")
	if err != nil {
		s.log.Warn("encode response", "err", err, "type", fmt.Sprintf("%T", obj))
		s.writeError(w, req, apierrors.NewInternalError(err))
		return
	}
	ct := t.mime
	if ct == api.ContentTypeProtobuf || ct == api.ContentTypeJSON {
		w.Header().Set("Content-Type", ct)
	} else {
		w.Header().Set("Content-Type", ct+"; charset=utf-8")
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// encodeAs encodes obj; protobuf needs a runtime.Object of Skiff's scheme.
func encodeAs(mimeType string, obj any, pretty bool) ([]byte, error) {
	switch mimeType {
	case api.ContentTypeProtobuf:
		ro, ok := obj.(runtime.Object)
		if !ok {
			return nil, fmt.Errorf("%T has no protobuf encoding", obj)
		}
		return api.Encode(ro)
	case api.ContentTypeYAML:
		return yaml.Marshal(obj)
	}
	var b []byte
	var err error
	if pretty {
		b, err = json.MarshalIndent(obj, "", "  ")
	} else {
		b, err = json.Marshal(obj)
	}
	return append(b, '\n'), err
}

// writeError writes err as a metav1.Status with its code.
func (s *Server) writeError(w http.ResponseWriter, req *http.Request, err error) {
	st := apiserver.Status(err)
	// A client that went away (a watch closed before it was set up, an
	// interrupted list) is not a server failure.
	gone := req.Context().Err() != nil && errors.Is(err, req.Context().Err())
	if st.Code >= 500 && !gone {
		s.log.Warn("request failed", "method", req.Method, "uri", req.URL.RequestURI(), "code", st.Code, "err", st.Message)
	}
	b, _ := json.Marshal(st)
	w.Header().Set("Content-Type", api.ContentTypeJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(append(b, '\n'))
}

// readBody reads a request body, bounded.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the request body: %v", err))
	}
	if len(b) > maxBody {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the request body is larger than %d bytes", maxBody))
	}
	return b, nil
}

// maxBody bounds request bodies, as the NATS door does.
const maxBody = 2 * apiserver.MaxObjectSize

// bodyContentType checks the request's Content-Type for an object body.
func bodyContentType(req *http.Request) error {
	ct := req.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	typ, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch typ {
		case api.ContentTypeJSON, api.ContentTypeYAML, "application/x-yaml", "text/yaml", api.ContentTypeProtobuf, "*/*":
			return nil
		}
	}
	return unsupportedMediaType(ct, api.ContentTypeJSON, api.ContentTypeYAML, api.ContentTypeProtobuf)
}

// unsupportedMediaType is the 415 for a body of type ct.
func unsupportedMediaType(ct string, accepted ...string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		fmt.Sprintf("the body of the request was in an unknown format (%q) - accepted media types include: %s", ct, strings.Join(accepted, ", ")), 0, false)
}

// fieldValidation checks the fieldValidation parameter. "" means Warn, as
// in Kubernetes.
func fieldValidation(v string) (string, error) {
	switch v {
	case "":
		return metav1.FieldValidationWarn, nil
	case metav1.FieldValidationIgnore, metav1.FieldValidationWarn, metav1.FieldValidationStrict:
		return v, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of %q, %q or %q, not %q",
		metav1.FieldValidationIgnore, metav1.FieldValidationWarn, metav1.FieldValidationStrict, v))
}

// decodeObject decodes a request body as an object of r (or into). Unknown
// and duplicate fields fail the request under Strict, become warnings
// under Warn and are dropped under Ignore, as in Kubernetes.
func decodeObject(w http.ResponseWriter, req *http.Request, r *api.Resource, into runtime.Object, validation string) (runtime.Object, error) {
	if err := bodyContentType(req); err != nil {
		return nil, err
	}
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	if into == nil {
		into = r.New()
	}
	kind := r.Kind
	if gvks, _, err := api.Scheme().ObjectKinds(into); err == nil && len(gvks) > 0 {
		kind = gvks[0].Kind
	}
	cannot := fmt.Sprintf("%s in version %q cannot be handled as a %s", kind, r.Version, kind)
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, apierrors.NewBadRequest(cannot + ": the request body is empty")
	}
	var obj runtime.Object
	if validation == metav1.FieldValidationIgnore {
		obj, err = api.Decode(body, into)
	} else {
		obj, err = api.DecodeStrict(body, into)
	}
	if strict, ok := runtime.AsStrictDecodingError(err); ok && obj != nil {
		if validation == metav1.FieldValidationStrict {
			return nil, apierrors.NewBadRequest(cannot + ": " + err.Error())
		}
		for _, e := range strict.Errors() {
			addWarning(w, e.Error())
		}
		err = nil
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(cannot + ": " + err.Error())
	}
	return obj, nil
}

// addWarning adds a Warning header, as Kubernetes sends them (kubectl
// prints "Warning: <text>").
func addWarning(w http.ResponseWriter, text string) {
	w.Header().Add("Warning", "299 - "+strconv.Quote(text))
}
