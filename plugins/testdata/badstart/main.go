// Command badstart is a guest whose start function (_initialize, which
// runs package initialisation) panics, so it cannot be instantiated.
package main

import "github.com/skiffhq/skiff/sdk/plugin"

func init() {
	plugin.RegisterFilter(func(plugin.Pod, []plugin.Node, []plugin.Verdict) error { return nil })
	panic("badstart: cannot start")
}

func main() {}
