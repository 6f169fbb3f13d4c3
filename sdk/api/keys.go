package api

import (
	"strings"

	"github.com/skiffhq/skiff/bus/subjects"
)

// Key is the state-store key of an object:
// <group>.<resource>.<namespace>.<name>, each token escaped with
// subjects.Token ("_" stands for the core group and for "no namespace").
func Key(r *Resource, namespace, name string) string {
	return KeyPrefix(r, namespace) + "." + subjects.Token(name)
}

// KeyPrefix is the store prefix of r's objects in namespace; namespace ""
// of a namespaced resource means every namespace.
func KeyPrefix(r *Resource, namespace string) string {
	p := subjects.Token(r.Group) + "." + r.Resource
	if !r.Namespaced {
		return p + "._"
	}
	if namespace == "" {
		return p
	}
	return p + "." + subjects.Token(namespace)
}

// ParseKey splits a key made by Key into its resource, namespace and name.
func ParseKey(key string) (r *Resource, namespace, name string, ok bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 4 {
		return nil, "", "", false
	}
	group, ok1 := subjects.Untoken(parts[0])
	ns, ok2 := subjects.Untoken(parts[2])
	name, ok3 := subjects.Untoken(parts[3])
	if !ok1 || !ok2 || !ok3 {
		return nil, "", "", false
	}
	r, ok = Lookup(group, parts[1])
	return r, ns, name, ok
}
