package api

import "k8s.io/apimachinery/pkg/runtime"

// HasProtobuf reports whether obj's kind has a protobuf encoding: the
// kinds of k8s.io/api do, Skiff's own (skiff.dev) do not and are stored
// and served as JSON.
func HasProtobuf(obj runtime.Object) bool {
	_, ok := obj.(protoMarshaler)
	return ok
}
