//go:build !unix

package plugins

func mapMemory(uint64) []byte { return nil }

func unmapMemory([]byte) {}
