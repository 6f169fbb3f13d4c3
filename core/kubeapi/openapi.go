package kubeapi

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiffhq/skiff/sdk/api"
)

// This file generates the OpenAPI documents by reflection over the Go
// types of k8s.io/api: Kubernetes' own generated definitions live in
// k8s.io/kubernetes, which cannot be imported. Names, descriptions
// (SwaggerDoc), required fields (no omitempty), the special string types
// (Quantity, Time, IntOrString: their OpenAPISchemaType methods) and the
// patch extensions (struct tags patchStrategy and patchMergeKey) follow
// what openapi-gen produces, which is what kubectl apply (strategic merge
// patches), kubectl explain and client-side validation read.

// mimeOpenAPIv2Proto is the Content-Type of the protobuf OpenAPI v2
// document. Clients ask for ...spec.v2@v1.0+protobuf, which is not a valid
// media type; Kubernetes answers with this spelling, which is.
const mimeOpenAPIv2Proto = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

// openAPIDocs are the generated documents, built once.
type openAPIDocs struct {
	v2JSON  []byte
	v2Proto []byte
	// v3 maps "api/v1", "apis/apps/v1", ... to the group version's document.
	v3      map[string][]byte
	v3Hash  map[string]string
	v3Index []byte
	err     error
}

func (s *Server) openAPI() *openAPIDocs {
	s.docsOnce.Do(func() { s.docs = buildOpenAPI(s.info.GitVersion) })
	return s.docs
}

// serveOpenAPI serves /openapi/v2 and /openapi/v3[/<path>].
func (s *Server) serveOpenAPI(w http.ResponseWriter, req *http.Request, segs []string) error {
	d := s.openAPI()
	if d.err != nil {
		return apierrors.NewInternalError(d.err)
	}
	switch {
	case len(segs) == 1 && segs[0] == "v2":
		accept := req.Header.Get("Accept")
		if strings.Contains(accept, "protobuf") {
			w.Header().Set("Content-Type", mimeOpenAPIv2Proto)
			_, _ = w.Write(d.v2Proto)
			return nil
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(d.v2JSON)
		return nil
	case len(segs) == 1 && segs[0] == "v3":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(d.v3Index)
		return nil
	case len(segs) > 1 && segs[0] == "v3":
		path := strings.Join(segs[1:], "/")
		doc, ok := d.v3[path]
		if !ok {
			return errNotFound()
		}
		if h := req.URL.Query().Get("hash"); h != "" && h == d.v3Hash[path] {
			w.Header().Set("Cache-Control", "public, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache, private")
		}
		w.Header().Set("Etag", `"`+d.v3Hash[path]+`"`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
		return nil
	}
	return errNotFound()
}

// openAPITyper is implemented by the types that are strings on the wire
// (resource.Quantity, metav1.Time, intstr.IntOrString, ...).
type openAPITyper interface {
	OpenAPISchemaType() []string
	OpenAPISchemaFormat() string
}

type swaggerDoc interface{ SwaggerDoc() map[string]string }

var (
	typerType      = reflect.TypeFor[openAPITyper]()
	docType        = reflect.TypeFor[swaggerDoc]()
	rawExtension   = reflect.TypeFor[runtime.RawExtension]()
	fieldsV1       = reflect.TypeFor[metav1.FieldsV1]()
	byteSlice      = reflect.TypeFor[[]byte]()
	gvkExtension   = "x-kubernetes-group-version-kind"
	extMergeKey    = "x-kubernetes-patch-merge-key"
	extStrategy    = "x-kubernetes-patch-strategy"
	extListType    = "x-kubernetes-list-type"
	extListMapKeys = "x-kubernetes-list-map-keys"
)

// defName is openapi-gen's definition name of a Go type:
// k8s.io/api/core/v1.Pod is io.k8s.api.core.v1.Pod.
func defName(t reflect.Type) string {
	parts := strings.Split(t.PkgPath(), "/")
	host := strings.Split(parts[0], ".")
	slices.Reverse(host)
	return strings.Join(append([]string{strings.Join(host, ".")}, parts[1:]...), ".") + "." + t.Name()
}

// schemaBuilder collects the definitions reachable from the types it is
// asked about. v3 selects OpenAPI v3 references (#/components/schemas/)
// and wraps described references in allOf, as Kubernetes does.
type schemaBuilder struct {
	v3   bool
	defs map[string]*spec.Schema
}

func newSchemaBuilder(v3 bool) *schemaBuilder {
	return &schemaBuilder{v3: v3, defs: map[string]*spec.Schema{}}
}

func (b *schemaBuilder) ref(name string) spec.Schema {
	prefix := "#/definitions/"
	if b.v3 {
		prefix = "#/components/schemas/"
	}
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(prefix + name)}}
}

func docsOf(t reflect.Type) map[string]string {
	if t.Implements(docType) {
		return reflect.Zero(t).Interface().(swaggerDoc).SwaggerDoc()
	}
	if reflect.PointerTo(t).Implements(docType) {
		return reflect.New(t).Interface().(swaggerDoc).SwaggerDoc()
	}
	return nil
}

// define makes sure t (a named type) has a definition and returns a
// reference to it.
func (b *schemaBuilder) define(t reflect.Type) spec.Schema {
	name := defName(t)
	if _, ok := b.defs[name]; ok {
		return b.ref(name)
	}
	def := &spec.Schema{}
	b.defs[name] = def // before recursing: types may refer to themselves
	switch {
	case reflect.PointerTo(t).Implements(typerType):
		v := reflect.New(t).Interface().(openAPITyper)
		def.Type = v.OpenAPISchemaType()
		def.Format = v.OpenAPISchemaFormat()
	case t == rawExtension:
		def.Type = spec.StringOrArray{"object"}
		def.Description = "RawExtension is used to hold extensions in external versions."
	case t == fieldsV1:
		def.Type = spec.StringOrArray{"object"}
		def.Description = "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format."
	default:
		*def = b.structSchema(t)
	}
	if d := docsOf(t)[""]; d != "" {
		def.Description = d
	}
	return b.ref(name)
}

// structSchema is the object schema of struct type t, with inline
// (embedded) structs' fields merged in.
func (b *schemaBuilder) structSchema(t reflect.Type) spec.Schema {
	s := spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, Properties: map[string]spec.Schema{}}}
	b.addFields(&s, t)
	if len(s.Properties) == 0 {
		s.Properties = nil
	}
	sort.Strings(s.Required)
	return s
}

func (b *schemaBuilder) addFields(s *spec.Schema, t reflect.Type) {
	docs := docsOf(t)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		inline := strings.Contains(","+opts+",", ",inline,") || f.Anonymous && name == ""
		if inline {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				b.addFields(s, ft)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		ps := b.schemaOf(f.Type)
		if d := docs[name]; d != "" {
			ps = b.describe(ps, d)
		}
		if mk := f.Tag.Get("patchMergeKey"); mk != "" {
			ps.AddExtension(extMergeKey, mk)
		}
		if st := f.Tag.Get("patchStrategy"); st != "" {
			ps.AddExtension(extStrategy, st)
			if f.Type.Kind() == reflect.Slice && strings.Contains(st, "merge") && f.Tag.Get("patchMergeKey") != "" {
				ps.AddExtension(extListType, "map")
				ps.AddExtension(extListMapKeys, []any{f.Tag.Get("patchMergeKey")})
			}
		}
		s.Properties[name] = ps
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			s.Required = append(s.Required, name)
		}
	}
}

// describe adds a description to a property schema. A reference takes no
// siblings in OpenAPI v3, so there it is wrapped in allOf.
func (b *schemaBuilder) describe(ps spec.Schema, d string) spec.Schema {
	if ps.Ref.String() != "" && b.v3 {
		return spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{ps}, Description: d}}
	}
	ps.Description = d
	return ps
}

// schemaOf is the schema of a value of type t: a reference for named
// structs and special types, an inline schema otherwise.
func (b *schemaBuilder) schemaOf(t reflect.Type) spec.Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" && t.PkgPath() != "" &&
		(reflect.PointerTo(t).Implements(typerType) || t == rawExtension || t == fieldsV1 || t.Kind() == reflect.Struct) {
		return b.define(t)
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t == byteSlice || t.Elem().Kind() == reflect.Uint8 {
			return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"string"}, Format: "byte"}}
		}
		item := b.schemaOf(t.Elem())
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"array"}, Items: &spec.SchemaOrArray{Schema: &item}}}
	case reflect.Map:
		v := b.schemaOf(t.Elem())
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, AdditionalProperties: &spec.SchemaOrBool{Allows: true, Schema: &v}}}
	case reflect.String:
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"string"}}}
	case reflect.Bool:
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"boolean"}}}
	case reflect.Int32, reflect.Int16, reflect.Int8, reflect.Uint32, reflect.Uint16, reflect.Uint8:
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"integer"}, Format: "int32"}}
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"integer"}, Format: "int64"}}
	case reflect.Float32:
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"number"}, Format: "float"}}
	case reflect.Float64:
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"number"}, Format: "double"}}
	case reflect.Struct:
		return b.structSchema(t)
	}
	return spec.Schema{} // interface{}: anything
}

// kindRoot is a top-level kind of the documents and the GVKs it is
// served as.
type kindRoot struct {
	t    reflect.Type
	gvks []schema.GroupVersionKind
}

// roots lists the kinds of gv (every group version when gv is nil): the
// resources and their lists, and the kinds every group version uses.
func roots(gvs []schema.GroupVersion) []kindRoot {
	var out []kindRoot
	typeOf := func(o any) reflect.Type { return reflect.TypeOf(o).Elem() }
	var shared []schema.GroupVersionKind
	for _, gv := range gvs {
		for _, r := range resourcesIn(gv) {
			out = append(out,
				kindRoot{typeOf(r.New()), []schema.GroupVersionKind{r.GVK()}},
				kindRoot{typeOf(r.NewList()), []schema.GroupVersionKind{gv.WithKind(r.Kind + "List")}})
			if scalable(r) && !slices.ContainsFunc(out, func(k kindRoot) bool { return k.t == typeOf(&autoscalingv1.Scale{}) }) {
				out = append(out, kindRoot{typeOf(&autoscalingv1.Scale{}), []schema.GroupVersionKind{scaleGVK}})
			}
		}
		if gv.Group == "" {
			out = append(out,
				kindRoot{typeOf(&corev1.Binding{}), []schema.GroupVersionKind{gv.WithKind("Binding")}},
				kindRoot{typeOf(&metav1.Status{}), []schema.GroupVersionKind{gv.WithKind("Status")}})
		}
		shared = append(shared, gv.WithKind("DeleteOptions"))
	}
	watchGVKs := make([]schema.GroupVersionKind, len(shared))
	for i, g := range shared {
		watchGVKs[i] = g.GroupVersion().WithKind("WatchEvent")
	}
	out = append(out,
		kindRoot{typeOf(&metav1.DeleteOptions{}), shared},
		kindRoot{typeOf(&metav1.WatchEvent{}), watchGVKs},
		kindRoot{typeOf(&metav1.Status{}), nil},
		kindRoot{typeOf(&metav1.Patch{}), nil})
	return out
}

// definitions builds the definitions of roots.
func definitions(v3 bool, rs []kindRoot) map[string]*spec.Schema {
	b := newSchemaBuilder(v3)
	for _, k := range rs {
		b.define(k.t)
	}
	patch := b.defs[defName(reflect.TypeFor[metav1.Patch]())]
	patch.Type = spec.StringOrArray{"object"}
	patch.Properties, patch.Required = nil, nil
	for _, k := range rs {
		if len(k.gvks) == 0 {
			continue
		}
		def := b.defs[defName(k.t)]
		var list []any
		if prev, ok := def.Extensions[gvkExtension].([]any); ok {
			list = prev
		}
		for _, g := range k.gvks {
			list = append(list, map[string]any{"group": g.Group, "version": g.Version, "kind": g.Kind})
		}
		def.AddExtension(gvkExtension, list)
	}
	return b.defs
}

// queryParams describes the query parameters the paths declare.
var queryParams = map[string]struct{ typ, desc string }{
	"pretty":               {"string", "If 'true', then the output is pretty printed."},
	"dryRun":               {"string", "When present, indicates that modifications should not be persisted. The only valid value is All."},
	"fieldManager":         {"string", "fieldManager is a name associated with the actor or entity that is making these changes."},
	"fieldValidation":      {"string", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn (the default) or Strict."},
	"force":                {"boolean", "Force is going to \"force\" Apply requests. Skiff does not serve server-side apply."},
	"allowWatchBookmarks":  {"boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."},
	"continue":             {"string", "The continue option should be set when retrieving more results from the server."},
	"fieldSelector":        {"string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."},
	"labelSelector":        {"string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."},
	"limit":                {"integer", "limit is a maximum number of responses to return for a list call."},
	"resourceVersion":      {"string", "resourceVersion sets a constraint on what resource versions a request may be served from."},
	"resourceVersionMatch": {"string", "resourceVersionMatch determines how resourceVersion is applied to list calls."},
	"sendInitialEvents":    {"boolean", "sendInitialEvents=true may be set together with watch=true: the watch starts with synthetic events for the current state, then a bookmark."},
	"timeoutSeconds":       {"integer", "Timeout for the list/watch call."},
	"watch":                {"boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."},
	"gracePeriodSeconds":   {"integer", "The duration in seconds before the object should be deleted."},
	"propagationPolicy":    {"string", "Whether and how garbage collection will be performed: Orphan, Background or Foreground."},
}

var (
	listParams   = []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}
	writeParams  = []string{"dryRun", "fieldManager", "fieldValidation"}
	patchParams  = []string{"dryRun", "fieldManager", "fieldValidation", "force"}
	deleteParams = []string{"dryRun", "gracePeriodSeconds", "propagationPolicy"}
	patchTypes   = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}
	objectTypes  = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
)

// operation is one operation of a path, rendered into v2 or v3.
type operation struct {
	method, id, action string
	gvk                schema.GroupVersionKind
	query              []string
	body               string   // definition of the request body, "" for none
	consumes           []string // request body media types
	response           string   // definition of the 200 response
	desc               string
}

type pathOps struct {
	path   string
	params []string // path parameters: namespace, name
	ops    []operation
}

func camel(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// resourcePaths lists the paths of r, as Kubernetes lays them out.
func resourcePaths(r *api.Resource) []pathOps {
	prefix := "/api/" + r.Version
	group := "Core"
	if r.Group != "" {
		prefix = "/apis/" + r.Group + "/" + r.Version
		group = camel(strings.Split(r.Group, ".")[0])
	}
	id := func(verb, suffix string) string {
		ns := ""
		if r.Namespaced {
			ns = "Namespaced"
		}
		return verb + group + camel(r.Version) + ns + r.Kind + suffix
	}
	gvk := r.GVK()
	kind := defName(reflect.TypeOf(r.New()).Elem())
	listKind := defName(reflect.TypeOf(r.NewList()).Elem())
	status := defName(reflect.TypeFor[metav1.Status]())
	delOpts := defName(reflect.TypeFor[metav1.DeleteOptions]())
	patch := defName(reflect.TypeFor[metav1.Patch]())
	coll, params := prefix+"/"+r.Resource, []string(nil)
	if r.Namespaced {
		coll, params = prefix+"/namespaces/{namespace}/"+r.Resource, []string{"namespace"}
	}
	item := coll + "/{name}"
	itemParams := append(slices.Clone(params), "name")
	out := []pathOps{
		{coll, params, []operation{
			{method: "get", id: id("list", ""), action: "list", gvk: gvk, query: listParams, response: listKind, desc: "list or watch objects of kind " + r.Kind},
			{method: "post", id: id("create", ""), action: "post", gvk: gvk, query: writeParams, body: kind, consumes: objectTypes, response: kind, desc: "create a " + r.Kind},
			{method: "delete", id: id("deletecollection", ""), action: "deletecollection", gvk: gvk, query: append(slices.Clone(listParams[:7]), deleteParams...), body: delOpts, consumes: objectTypes, response: status, desc: "delete collection of " + r.Kind},
		}},
		{item, itemParams, []operation{
			{method: "get", id: id("read", ""), action: "get", gvk: gvk, response: kind, desc: "read the specified " + r.Kind},
			{method: "put", id: id("replace", ""), action: "put", gvk: gvk, query: writeParams, body: kind, consumes: objectTypes, response: kind, desc: "replace the specified " + r.Kind},
			{method: "patch", id: id("patch", ""), action: "patch", gvk: gvk, query: patchParams, body: patch, consumes: patchTypes, response: kind, desc: "partially update the specified " + r.Kind},
			{method: "delete", id: id("delete", ""), action: "delete", gvk: gvk, query: deleteParams, body: delOpts, consumes: objectTypes, response: status, desc: "delete a " + r.Kind},
		}},
	}
	if r.Namespaced {
		out = append(out, pathOps{prefix + "/" + r.Resource, nil, []operation{
			{method: "get", id: "list" + group + camel(r.Version) + r.Kind + "ForAllNamespaces", action: "list", gvk: gvk, query: listParams, response: listKind, desc: "list or watch objects of kind " + r.Kind},
		}})
	}
	for _, sub := range subresources(r) {
		subKind := kind
		switch sub.name {
		case "scale":
			subKind = defName(reflect.TypeFor[autoscalingv1.Scale]())
		case "binding":
			out = append(out, pathOps{item + "/binding", itemParams, []operation{
				{method: "post", id: id("create", "Binding"), action: "post", gvk: sub.gvk, query: writeParams,
					body: defName(reflect.TypeFor[corev1.Binding]()), consumes: objectTypes, response: defName(reflect.TypeFor[corev1.Binding]()), desc: "create binding of a Pod"},
			}})
			continue
		case "log":
			continue // not served yet
		}
		suffix := camel(sub.name)
		out = append(out, pathOps{item + "/" + sub.name, itemParams, []operation{
			{method: "get", id: id("read", suffix), action: "get", gvk: sub.gvk, response: subKind, desc: "read " + sub.name + " of the specified " + r.Kind},
			{method: "put", id: id("replace", suffix), action: "put", gvk: sub.gvk, query: writeParams, body: subKind, consumes: objectTypes, response: subKind, desc: "replace " + sub.name + " of the specified " + r.Kind},
			{method: "patch", id: id("patch", suffix), action: "patch", gvk: sub.gvk, query: patchParams, body: patch, consumes: patchTypes, response: subKind, desc: "partially update " + sub.name + " of the specified " + r.Kind},
		}})
	}
	return out
}

func gvkMap(g schema.GroupVersionKind) map[string]any {
	return map[string]any{"group": g.Group, "version": g.Version, "kind": g.Kind}
}

func pathParam(name string, v3 bool) map[string]any {
	p := map[string]any{"name": name, "in": "path", "required": true, "description": name + " of the object"}
	if v3 {
		p["schema"] = map[string]any{"type": "string"}
	} else {
		p["type"] = "string"
	}
	return p
}

func queryParam(name string, v3 bool) map[string]any {
	qp := queryParams[name]
	p := map[string]any{"name": name, "in": "query", "description": qp.desc}
	if v3 {
		p["schema"] = map[string]any{"type": qp.typ}
	} else {
		p["type"] = qp.typ
	}
	return p
}

// renderPaths renders path operations into OpenAPI v2 or v3 path items.
func renderPaths(ps []pathOps, v3 bool) map[string]any {
	ref := func(name string) map[string]any {
		if v3 {
			return map[string]any{"$ref": "#/components/schemas/" + name}
		}
		return map[string]any{"$ref": "#/definitions/" + name}
	}
	out := map[string]any{}
	for _, p := range ps {
		item := map[string]any{}
		var params []any
		for _, n := range p.params {
			params = append(params, pathParam(n, v3))
		}
		params = append(params, queryParam("pretty", v3))
		item["parameters"] = params
		for _, op := range p.ops {
			o := map[string]any{
				"operationId":                     op.id,
				"description":                     op.desc,
				"tags":                            []string{op.gvk.Group + "_" + op.gvk.Version},
				"x-kubernetes-action":             op.action,
				"x-kubernetes-group-version-kind": gvkMap(op.gvk),
			}
			var qs []any
			for _, q := range op.query {
				qs = append(qs, queryParam(q, v3))
			}
			produces := []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
			if op.action == "list" {
				produces = append(produces, "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
			}
			resp := map[string]any{"description": "OK"}
			if v3 {
				content := map[string]any{}
				for _, m := range produces {
					content[m] = map[string]any{"schema": ref(op.response)}
				}
				resp["content"] = content
				if op.body != "" {
					bc := map[string]any{}
					for _, m := range op.consumes {
						bc[m] = map[string]any{"schema": ref(op.body)}
					}
					o["requestBody"] = map[string]any{"content": bc, "required": op.method != "delete"}
				}
			} else {
				resp["schema"] = ref(op.response)
				o["produces"] = produces
				o["schemes"] = []string{"https"}
				if op.body != "" {
					o["consumes"] = op.consumes
					qs = append(qs, map[string]any{"name": "body", "in": "body", "required": op.method != "delete", "schema": ref(op.body)})
				} else {
					o["consumes"] = []string{"*/*"}
				}
			}
			if len(qs) > 0 {
				o["parameters"] = qs
			}
			responses := map[string]any{"200": resp, "401": map[string]any{"description": "Unauthorized"}}
			if op.method == "post" {
				responses["201"] = resp
			}
			o["responses"] = responses
			item[op.method] = o
		}
		out[p.path] = item
	}
	return out
}

// reachable returns the definitions reachable from the named roots.
func reachable(defs map[string]*spec.Schema, names []string) map[string]*spec.Schema {
	out := map[string]*spec.Schema{}
	var walk func(s *spec.Schema)
	visit := func(name string) {
		if _, ok := out[name]; ok {
			return
		}
		d, ok := defs[name]
		if !ok {
			return
		}
		out[name] = d
		walk(d)
	}
	walk = func(s *spec.Schema) {
		if s == nil {
			return
		}
		if r := s.Ref.String(); r != "" {
			visit(r[strings.LastIndexByte(r, '/')+1:])
		}
		for k := range s.Properties {
			p := s.Properties[k]
			walk(&p)
		}
		if s.Items != nil {
			walk(s.Items.Schema)
		}
		if s.AdditionalProperties != nil {
			walk(s.AdditionalProperties.Schema)
		}
		for i := range s.AllOf {
			walk(&s.AllOf[i])
		}
	}
	for _, n := range names {
		visit(n)
	}
	return out
}

// buildOpenAPI generates every document.
func buildOpenAPI(serverVersion string) *openAPIDocs {
	d := &openAPIDocs{v3: map[string][]byte{}, v3Hash: map[string]string{}}
	info := map[string]any{"title": "Skiff", "version": serverVersion}
	gvs := groupVersions()

	// v2: one document.
	allRoots := roots(gvs)
	defs2 := definitions(false, allRoots)
	var paths []pathOps
	for _, r := range api.Resources() {
		paths = append(paths, resourcePaths(r)...)
	}
	v2 := map[string]any{"swagger": "2.0", "info": info, "paths": renderPaths(paths, false), "definitions": defs2,
		"securityDefinitions": map[string]any{"BearerToken": map[string]any{"type": "apiKey", "name": "authorization", "in": "header"}},
		"security":            []any{map[string]any{"BearerToken": []string{}}}}
	if d.v2JSON, d.err = json.Marshal(v2); d.err != nil {
		return d
	}
	doc, err := openapiv2.ParseDocument(d.v2JSON)
	if err != nil {
		d.err = fmt.Errorf("openapi v2: %w", err)
		return d
	}
	if d.v2Proto, d.err = proto.Marshal(doc); d.err != nil {
		return d
	}

	// v3: one document per group version.
	index := map[string]any{}
	for _, gv := range gvs {
		rs := roots([]schema.GroupVersion{gv})
		defs3 := definitions(true, rs)
		var names []string
		for _, k := range rs {
			names = append(names, defName(k.t))
		}
		var ps []pathOps
		for _, r := range resourcesIn(gv) {
			ps = append(ps, resourcePaths(r)...)
		}
		doc := map[string]any{"openapi": "3.0.0", "info": info, "paths": renderPaths(ps, true),
			"components": map[string]any{
				"schemas":         reachable(defs3, names),
				"securitySchemes": map[string]any{"BearerToken": map[string]any{"type": "apiKey", "name": "authorization", "in": "header"}},
			},
			"security": []any{map[string]any{"BearerToken": []string{}}}}
		b, err := json.Marshal(doc)
		if err != nil {
			d.err = fmt.Errorf("openapi v3 %s: %w", gv, err)
			return d
		}
		key := "api/" + gv.Version
		if gv.Group != "" {
			key = "apis/" + gv.Group + "/" + gv.Version
		}
		sum := sha512.Sum512(b)
		hash := strings.ToUpper(hex.EncodeToString(sum[:]))
		d.v3[key], d.v3Hash[key] = b, hash
		index[key] = map[string]any{"serverRelativeURL": "/openapi/v3/" + key + "?hash=" + hash}
	}
	d.v3Index, d.err = json.Marshal(map[string]any{"paths": index})
	return d
}
