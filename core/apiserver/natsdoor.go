package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/sdk/api"
)

// maxRequestBody bounds a request's body; larger ones get 413 before they
// are decoded.
const maxRequestBody = 2 * MaxObjectSize

// NATSConfig configures the NATS door.
type NATSConfig struct {
	// Workers bounds the requests served at once (default 256).
	Workers int
	// Ready, if set, is called once the door takes requests.
	Ready func()
}

// ServeNATS answers API requests on subjects.APIAll() in the queue group
// subjects.APIQueue until ctx ends. The protocol is in
// docs/api-over-nats.md.
func (s *Server) ServeNATS(ctx context.Context, conn *bus.Conn, cfg NATSConfig) error {
	return conn.Serve(ctx, bus.ServeConfig{
		Subject: subjects.APIAll(),
		Queue:   subjects.APIQueue,
		Workers: cfg.Workers,
		Ready:   cfg.Ready,
	}, s.handleNATS)
}

func (s *Server) handleNATS(ctx context.Context, req *bus.Msg) (reply *bus.Msg) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "subject", req.Subject, "panic", p)
			reply = errorReply(apierrors.NewInternalError(fmt.Errorf("internal error serving %s", req.Subject)))
		}
	}()
	reply, err := s.serveNATS(ctx, req)
	if err != nil {
		return errorReply(err)
	}
	return reply
}

func errorReply(err error) *bus.Msg {
	st := Status(err)
	body, _ := json.Marshal(st)
	h := bus.Header{}
	h.Set(api.HdrCode, strconv.Itoa(int(st.Code)))
	h.Set(api.HdrContentType, api.ContentTypeJSON)
	return &bus.Msg{Header: h, Data: body}
}

func objectReply(code int, raw []byte, rev uint64) *bus.Msg {
	h := bus.Header{}
	h.Set(api.HdrCode, strconv.Itoa(code))
	h.Set(api.HdrContentType, api.ContentTypeProtobuf)
	h.Set(api.HdrRevision, api.FormatRevision(rev))
	return &bus.Msg{Header: h, Data: raw}
}

func successReply(details string) *bus.Msg {
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusOK, Message: details}
	body, _ := json.Marshal(st)
	h := bus.Header{}
	h.Set(api.HdrCode, "200")
	h.Set(api.HdrContentType, api.ContentTypeJSON)
	return &bus.Msg{Header: h, Data: body}
}

func (s *Server) serveNATS(ctx context.Context, req *bus.Msg) (*bus.Msg, error) {
	op := api.Op(req.Subject[strings.LastIndexByte(req.Subject, '.')+1:])
	h := req.Header
	if h == nil {
		h = bus.Header{}
	}
	group, resource := h.Get(api.HdrGroup), h.Get(api.HdrResource)
	r, ok := api.Lookup(group, resource)
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: resource}, "")
	}
	ns, name, sub := h.Get(api.HdrNamespace), h.Get(api.HdrName), h.Get(api.HdrSubresource)
	if !r.Namespaced {
		ns = ""
	}
	needName := op == api.OpGet || op == api.OpUpdate || op == api.OpDelete || op == api.OpPatch
	if needName && name == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s of %s needs a name", op, r.Resource))
	}
	switch op {
	case api.OpGet:
		raw, rev, err := s.GetRaw(ctx, r, ns, name)
		if err != nil {
			return nil, err
		}
		return objectReply(http.StatusOK, raw, rev), nil

	case api.OpList:
		var opts metav1.ListOptions
		if err := decodeOptions(h, &opts); err != nil {
			return nil, err
		}
		res, err := s.List(ctx, r, ns, opts, ListConfig{MaxBytes: api.MaxListReply})
		if err != nil {
			return nil, err
		}
		var body []byte
		for _, it := range res.Items {
			body = api.AppendListItem(body, it.Revision, it.Raw)
		}
		rh := bus.Header{}
		rh.Set(api.HdrCode, "200")
		rh.Set(api.HdrRevision, api.FormatRevision(res.Revision))
		if res.Continue != "" {
			rh.Set(api.HdrContinue, res.Continue)
		}
		if res.Remaining != nil {
			rh.Set(api.HdrRemaining, strconv.FormatInt(*res.Remaining, 10))
		}
		return &bus.Msg{Header: rh, Data: body}, nil

	case api.OpCreate:
		var opts metav1.CreateOptions
		if err := decodeOptions(h, &opts); err != nil {
			return nil, err
		}
		switch {
		case sub == "binding" && r == api.Pods:
			obj, err := decodeBody(r, req.Data, &corev1.Binding{}, opts.FieldValidation)
			if err != nil {
				return nil, err
			}
			if _, err := s.Bind(ctx, ns, name, obj.(*corev1.Binding), opts); err != nil {
				return nil, err
			}
			return successReply(""), nil
		case sub != "":
			return nil, apierrors.NewNotFound(r.GroupResource(), name+"/"+sub)
		}
		obj, err := decodeBody(r, req.Data, nil, opts.FieldValidation)
		if err != nil {
			return nil, err
		}
		res, err := s.Create(ctx, r, ns, obj, opts)
		if err != nil {
			return nil, err
		}
		return objectReply(http.StatusCreated, res.Raw, res.Revision), nil

	case api.OpUpdate:
		var opts metav1.UpdateOptions
		if err := decodeOptions(h, &opts); err != nil {
			return nil, err
		}
		obj, err := decodeBody(r, req.Data, nil, opts.FieldValidation)
		if err != nil {
			return nil, err
		}
		res, err := s.Update(ctx, r, ns, name, sub, obj, opts)
		if err != nil {
			return nil, err
		}
		return objectReply(http.StatusOK, res.Raw, res.Revision), nil

	case api.OpPatch:
		var opts metav1.PatchOptions
		if err := decodeOptions(h, &opts); err != nil {
			return nil, err
		}
		res, err := s.Patch(ctx, r, ns, name, sub, types.PatchType(h.Get(api.HdrPatchType)), req.Data, opts)
		if err != nil {
			return nil, err
		}
		return objectReply(http.StatusOK, res.Raw, res.Revision), nil

	case api.OpDelete:
		var opts metav1.DeleteOptions
		if err := decodeOptions(h, &opts); err != nil {
			return nil, err
		}
		res, err := s.Delete(ctx, r, ns, name, opts)
		if err != nil {
			return nil, err
		}
		if res.Raw == nil {
			if res.Raw, err = api.Encode(res.Object); err != nil {
				return nil, apierrors.NewInternalError(err)
			}
		}
		m := objectReply(http.StatusOK, res.Raw, res.Revision)
		if !res.Gone {
			m.Header.Set(api.HdrCode, strconv.Itoa(http.StatusAccepted))
		}
		return m, nil

	case api.OpDeleteCollection:
		var opts struct {
			List   metav1.ListOptions   `json:"list"`
			Delete metav1.DeleteOptions `json:"delete"`
		}
		if err := decodeOptions(h, &opts); err != nil {
			return nil, err
		}
		n, err := s.DeleteCollection(ctx, r, ns, opts.List, opts.Delete)
		if err != nil {
			return nil, err
		}
		return successReply(fmt.Sprintf("%d deleted", n)), nil
	}
	return nil, apierrors.NewMethodNotSupported(r.GroupResource(), string(op))
}

// decodeOptions reads the operation's options from the request.
func decodeOptions(h bus.Header, into any) error {
	raw := h.Get(api.HdrOptions)
	if raw == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("invalid options: %v", err))
	}
	return nil
}

// decodeBody decodes the request body as an object of r (or into), strictly
// when fieldValidation is Strict.
func decodeBody(r *api.Resource, data []byte, into runtime.Object, fieldValidation string) (runtime.Object, error) {
	if len(data) > maxRequestBody {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the request body is %d bytes, limit is %d", len(data), maxRequestBody))
	}
	if into == nil {
		into = r.New()
	}
	var obj runtime.Object
	var err error
	if fieldValidation == metav1.FieldValidationStrict {
		obj, err = api.DecodeStrict(data, into)
	} else {
		obj, err = api.Decode(data, into)
	}
	if err != nil {
		if runtime.IsStrictDecodingError(err) {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("strict decoding error: %v", err))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request could not be decoded as a %s: %v", r.Kind, err))
	}
	return obj, nil
}
