package main

import (
	"strconv"

	"github.com/skiffhq/skiff/sdk/plugin"
)

var settings struct {
	Score int64 `json:"score"`
}

func init() {
	plugin.ReadsNode(plugin.Labels)
	plugin.RegisterConfigure(func(raw []byte) error { return plugin.DecodeSettings(raw, &settings) })
	plugin.RegisterFilter(func(pod plugin.Pod, nodes []plugin.Node, verdicts []plugin.Verdict) error {
		for i, n := range nodes {
			if why, ok := n.Labels().Get("reject"); ok {
				verdicts[i] = plugin.Reject("rejected: " + why)
			}
		}
		return nil
	})
	plugin.RegisterScore(func(pod plugin.Pod, nodes []plugin.Node, scores []int64) error {
		for i, n := range nodes {
			scores[i] = settings.Score
			if s, ok := n.Labels().Get("score"); ok {
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return err
				}
				scores[i] = v
			}
			if _, ok := n.Labels().Get("panic"); ok {
				panic("the SDK recovers this")
			}
		}
		return nil
	})
}

func main() {}
