package main

import "github.com/skiffhq/skiff/sdk/plugin"

func init() {
	plugin.RegisterFilter(func(plugin.Pod, []plugin.Node, []plugin.Verdict) error { return nil })
	panic("badstart: cannot start")
}

func main() {}
