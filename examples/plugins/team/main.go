package main

import (
	"errors"

	"github.com/skiffhq/skiff/sdk/plugin"
)

type settings struct {
	Annotation string `json:"annotation"`
	Label      string `json:"label"`
}

var cfg = settings{Annotation: "skiff.dev/team", Label: "team"}

// reason is what rejected nodes report.
const reason = "node(s) didn't match the pod's team"

func init() {
	plugin.ReadsNode(plugin.Labels)
	// Only the annotations matter, and a node's verdict depends on that
	// node alone: the host may cache verdicts across pods of one team.
	plugin.ReadsPod(plugin.PodAnnotations)
	plugin.Pure()
	plugin.RegisterConfigure(func(raw []byte) error {
		s := cfg
		if err := plugin.DecodeSettings(raw, &s); err != nil {
			return err
		}
		if s.Annotation == "" || s.Label == "" {
			return errors.New("settings: annotation and label must not be empty")
		}
		cfg = s
		return nil
	})
	plugin.RegisterFilter(filter)
}

func filter(pod plugin.Pod, nodes []plugin.Node, verdicts []plugin.Verdict) error {
	team, ok := pod.Annotations().Get(cfg.Annotation)
	if !ok {
		return nil
	}
	for i, n := range nodes {
		if v, _ := n.Labels().Get(cfg.Label); v != team {
			verdicts[i] = plugin.RejectUnresolvable(reason)
		}
	}
	return nil
}

func main() {}
