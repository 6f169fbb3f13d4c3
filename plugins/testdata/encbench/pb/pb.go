package pb

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

func appendMsg(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendInt(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func appendMap(b []byte, num protowire.Number, m map[string]string) []byte {
	for k, v := range m {
		var e []byte
		e = appendString(e, 1, k)
		e = appendString(e, 2, v)
		b = appendMsg(b, num, e)
	}
	return b
}

func appendResources(b []byte, num protowire.Number, r *abi.Resources) []byte {
	var m []byte
	m = appendInt(m, 1, r.MilliCPU)
	m = appendInt(m, 2, r.Memory)
	m = appendInt(m, 3, r.EphemeralStorage)
	m = appendInt(m, 4, r.Pods)
	for _, s := range r.Scalars {
		var e []byte
		e = appendString(e, 1, s.Name)
		e = appendInt(e, 2, s.Value)
		m = appendMsg(m, 5, e)
	}
	return appendMsg(b, num, m)
}

// Marshal encodes n.
func Marshal(n *abi.Node) []byte {
	var b []byte
	b = appendString(b, 1, n.Name)
	b = appendMap(b, 2, n.Labels)
	b = appendMap(b, 3, n.Annotations)
	for _, t := range n.Taints {
		var e []byte
		e = appendString(e, 1, t.Key)
		e = appendString(e, 2, t.Value)
		e = appendInt(e, 3, int64(t.Effect))
		b = appendMsg(b, 4, e)
	}
	if n.Unschedulable {
		b = appendInt(b, 5, 1)
	}
	b = appendResources(b, 6, &n.Allocatable)
	b = appendResources(b, 7, &n.Requested)
	b = appendInt(b, 8, n.NonZeroMilliCPU)
	b = appendInt(b, 9, n.NonZeroMemory)
	return appendInt(b, 10, n.Pods)
}

var errBad = errors.New("pb: malformed")

// fields calls fn for each field of b.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBad
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errBad
			}
			if err := fn(num, typ, nil, x); err != nil {
				return err
			}
			b = b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errBad
			}
			if err := fn(num, typ, v, 0); err != nil {
				return err
			}
			b = b[n:]
		default:
			return errBad
		}
	}
	return nil
}

func kv(v []byte) (k, val string, err error) {
	err = fields(v, func(num protowire.Number, _ protowire.Type, s []byte, _ uint64) error {
		switch num {
		case 1:
			k = string(s)
		case 2:
			val = string(s)
		}
		return nil
	})
	return k, val, err
}

func resources(v []byte, r *abi.Resources) error {
	return fields(v, func(num protowire.Number, _ protowire.Type, s []byte, x uint64) error {
		switch num {
		case 1:
			r.MilliCPU = int64(x)
		case 2:
			r.Memory = int64(x)
		case 3:
			r.EphemeralStorage = int64(x)
		case 4:
			r.Pods = int64(x)
		case 5:
			var sc abi.Scalar
			err := fields(s, func(num protowire.Number, _ protowire.Type, s []byte, x uint64) error {
				if num == 1 {
					sc.Name = string(s)
				} else {
					sc.Value = int64(x)
				}
				return nil
			})
			r.Scalars = append(r.Scalars, sc)
			return err
		}
		return nil
	})
}

// Unmarshal decodes b into n, as generated code would: maps and strings
// allocated.
func Unmarshal(b []byte, n *abi.Node) error {
	return fields(b, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			n.Name = string(v)
		case 2, 3:
			k, val, err := kv(v)
			if err != nil {
				return err
			}
			m := &n.Labels
			if num == 3 {
				m = &n.Annotations
			}
			if *m == nil {
				*m = map[string]string{}
			}
			(*m)[k] = val
		case 4:
			var t abi.Taint
			err := fields(v, func(num protowire.Number, _ protowire.Type, s []byte, x uint64) error {
				switch num {
				case 1:
					t.Key = string(s)
				case 2:
					t.Value = string(s)
				case 3:
					t.Effect = abi.Effect(x)
				}
				return nil
			})
			n.Taints = append(n.Taints, t)
			return err
		case 5:
			n.Unschedulable = x != 0
		case 6:
			return resources(v, &n.Allocatable)
		case 7:
			return resources(v, &n.Requested)
		case 8:
			n.NonZeroMilliCPU = int64(x)
		case 9:
			n.NonZeroMemory = int64(x)
		case 10:
			n.Pods = int64(x)
		}
		return nil
	})
}
