package subjects

import "strings"

const (
	root = "skiff"

	// APIQueue is the queue group every API server replica joins.
	APIQueue = "apiserver"

	// ObjectsBucket is the JetStream KV bucket that holds cluster objects.
	ObjectsBucket = "objects"
	// LeasesBucket is the JetStream KV bucket for leader election leases.
	LeasesBucket = "leases"
	// NodePodsBucket is the per-node index of bound pods that node agents
	// watch, keyed <node>.<namespace>.<name> (tokens escaped with Token).
	NodePodsBucket = "nodepods"
	// IPAllocBucket holds the ClusterIP allocations, one key per address.
	IPAllocBucket = "ipalloc"
)

// API is the subject of API server operation op ("create", "get", ...).
func API(op string) string { return root + ".api." + op }

// APIAll matches every API server operation.
func APIAll() string { return root + ".api.*" }

// Node is the subject prefix for messages addressed to node name, followed
// by the given suffix tokens.
func Node(name string, suffix ...string) string {
	s := root + ".node." + Token(name)
	if len(suffix) > 0 {
		s += "." + strings.Join(suffix, ".")
	}
	return s
}

// Events is the subject on which cluster events of the given namespace are
// published.
func Events(namespace string) string { return root + ".events." + Token(namespace) }

// Token escapes s so that it is exactly one valid NATS subject token: every
// byte outside [A-Za-z0-9-] becomes "_xx" (lower-case hex), and the empty
// string becomes "_". The mapping is injective, so distinct names never share
// a token, and it is reversed by Untoken.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// Untoken reverses Token. ok is false when t is not a token Token could
// have produced.
func Untoken(t string) (s string, ok bool) {
	if t == "_" {
		return "", true
	}
	if t == "" {
		return "", false
	}
	if !strings.Contains(t, "_") {
		for i := 0; i < len(t); i++ {
			if !plain(t[i]) {
				return "", false
			}
		}
		return t, true
	}
	var b strings.Builder
	b.Grow(len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		if c != '_' || i+2 >= len(t) {
			return "", false
		}
		hi, ok1 := unhex(t[i+1])
		lo, ok2 := unhex(t[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		v := hi<<4 | lo
		if plain(v) {
			return "", false // Token never escapes a plain byte
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), true
}

func plain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
