package api

import (
	"bytes"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// Content types of encoded objects.
const (
	ContentTypeProtobuf = "application/vnd.kubernetes.protobuf"
	ContentTypeJSON     = "application/json"
	ContentTypeYAML     = "application/yaml"
)

// protoMagic starts every protobuf-encoded object (Kubernetes' envelope).
var protoMagic = []byte{0x6b, 0x38, 0x73, 0x00}

var (
	scheme     = runtime.NewScheme()
	codecs     serializer.CodecFactory
	protoSer   *protobuf.Serializer
	jsonSer    *json.Serializer
	yamlSer    *json.Serializer
	strictJSON *json.Serializer
	strictYAML *json.Serializer
)

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, coordinationv1.AddToScheme,
		skiffv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic("bug: scheme: " + err.Error())
		}
	}
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	codecs = serializer.NewCodecFactory(scheme)
	protoSer = protobuf.NewSerializer(scheme, scheme)
	jsonSer = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{})
	yamlSer = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true})
	strictJSON = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Strict: true})
	strictYAML = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})
}

// Scheme returns the runtime scheme of every served kind. It must not be
// modified.
func Scheme() *runtime.Scheme { return scheme }

// Codecs returns the codec factory over Scheme, for content negotiation.
func Codecs() serializer.CodecFactory { return codecs }

// ErrUnknownKind is returned for objects of a kind Skiff does not serve.
var ErrUnknownKind = errors.New("api: kind is not served")

// SetKind sets obj's apiVersion and kind from the scheme.
func SetKind(obj runtime.Object) error {
	gvks, _, err := scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return fmt.Errorf("%w: %T", ErrUnknownKind, obj)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	return nil
}

// protoMarshaler is implemented by the kinds that have a protobuf
// encoding (those of k8s.io/api).
type protoMarshaler interface {
	Marshal() ([]byte, error)
}

// Encode encodes obj as protobuf (the storage and wire encoding of
// built-in kinds), setting its apiVersion and kind. Kinds without a
// protobuf encoding (Skiff's own group, skiff.dev) are encoded as JSON;
// Decode tells the two apart.
func Encode(obj runtime.Object) ([]byte, error) {
	if _, ok := obj.(protoMarshaler); !ok {
		return EncodeJSON(obj)
	}
	if err := SetKind(obj); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := protoSer.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("api: encode %T: %w", obj, err)
	}
	return buf.Bytes(), nil
}

// EncodeJSON encodes obj as JSON, setting its apiVersion and kind.
func EncodeJSON(obj runtime.Object) ([]byte, error) {
	if err := SetKind(obj); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := jsonSer.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("api: encode %T: %w", obj, err)
	}
	return buf.Bytes(), nil
}

// IsProtobuf reports whether data is a protobuf-encoded object.
func IsProtobuf(data []byte) bool { return bytes.HasPrefix(data, protoMagic) }

// Decode decodes a protobuf, JSON or YAML object into a new typed object of
// its kind. into, if not nil, is decoded into instead and must match.
func Decode(data []byte, into runtime.Object) (runtime.Object, error) {
	return decode(data, into, false)
}

// DecodeStrict is Decode that also fails on fields the kind does not
// have and on duplicate fields (JSON and YAML only; protobuf has neither).
func DecodeStrict(data []byte, into runtime.Object) (runtime.Object, error) {
	return decode(data, into, true)
}

func decode(data []byte, into runtime.Object, strict bool) (runtime.Object, error) {
	var d runtime.Decoder
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return nil, errors.New("api: empty body")
	case IsProtobuf(data):
		d = protoSer
	case isJSON(data):
		d = jsonSer
		if strict {
			d = strictJSON
		}
	default:
		d = yamlSer
		if strict {
			d = strictYAML
		}
	}
	obj, _, err := d.Decode(data, nil, into)
	if err != nil {
		return obj, err
	}
	return obj, nil
}

func isJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}
