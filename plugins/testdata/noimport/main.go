package main

import "github.com/skiffhq/skiff/sdk/plugin"

//go:wasmimport skiff no_such_function
func noSuchFunction() int32

func init() {
	plugin.RegisterFilter(func(plugin.Pod, []plugin.Node, []plugin.Verdict) error {
		noSuchFunction()
		return nil
	})
}

func main() {}
