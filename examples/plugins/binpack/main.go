package main

import (
	"errors"
	"fmt"

	"github.com/skiffhq/skiff/sdk/plugin"
)

type spec struct {
	Name   string `json:"name"`
	Weight int64  `json:"weight"`
	kind   kind
}

// kind says where a resource's amounts come from; resolved once, at
// configure time, so that scoring compares no strings.
type kind uint8

const (
	cpu kind = iota
	memory
	ephemeral
	scalar
)

func kindOf(name string) kind {
	switch name {
	case "cpu":
		return cpu
	case "memory":
		return memory
	case "ephemeral-storage":
		return ephemeral
	}
	return scalar
}

type settings struct {
	Resources []spec `json:"resources"`
}

var resources = []spec{{Name: "cpu", Weight: 1, kind: cpu}, {Name: "memory", Weight: 1, kind: memory}}

func init() {
	plugin.ReadsNode(plugin.ResourceFields)
	// Only the requests matter, and a node's score depends on that node
	// alone: the host may cache scores across pods of equal requests.
	plugin.ReadsPod(plugin.PodRequests)
	plugin.Pure()
	plugin.RegisterConfigure(configure)
	plugin.RegisterScore(score)
}

func configure(raw []byte) error {
	var s settings
	if err := plugin.DecodeSettings(raw, &s); err != nil {
		return err
	}
	if len(s.Resources) == 0 {
		return nil
	}
	seen := map[string]bool{}
	for i, r := range s.Resources {
		if r.Name == "" || seen[r.Name] {
			return fmt.Errorf("settings: resource %d: name %q is empty or repeated", i, r.Name)
		}
		seen[r.Name] = true
		if r.Weight == 0 {
			s.Resources[i].Weight = 1
		} else if r.Weight < 1 || r.Weight > 100 {
			return errors.New("settings: resource " + r.Name + ": weight must be in [1, 100]")
		}
		s.Resources[i].kind = kindOf(r.Name)
	}
	resources = s.Resources
	return nil
}

func score(pod plugin.Pod, nodes []plugin.Node, scores []int64) error {
	var podReq [8]int64
	if len(resources) > len(podReq) {
		return errors.New("too many resources")
	}
	podCPU, podMem := pod.NonZeroRequests()
	for i, r := range resources {
		switch r.kind {
		case cpu:
			podReq[i] = podCPU
		case memory:
			podReq[i] = podMem
		default:
			podReq[i] = pod.Requests().Get(r.Name)
		}
	}
	for j, n := range nodes {
		alloc := n.Allocatable()
		nzCPU, nzMem := n.NonZeroRequested()
		var sum, weights int64
		for i, r := range resources {
			var capacity, requested int64
			switch r.kind {
			case cpu:
				capacity, requested = alloc.MilliCPU(), nzCPU+podReq[i]
			case memory:
				capacity, requested = alloc.Memory(), nzMem+podReq[i]
			case ephemeral:
				capacity, requested = alloc.EphemeralStorage(), n.Requested().EphemeralStorage()+podReq[i]
			default:
				if podReq[i] == 0 {
					continue // a resource the pod does not ask for does not count
				}
				capacity, requested = alloc.Scalar(r.Name), n.Requested().Scalar(r.Name)+podReq[i]
			}
			if capacity == 0 {
				continue
			}
			sum += min(requested, capacity) * 100 / capacity * r.Weight
			weights += r.Weight
		}
		if weights > 0 {
			scores[j] = sum / weights
		}
	}
	return nil
}

func main() {}
