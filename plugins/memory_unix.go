//go:build unix

package plugins

import "syscall"

// mapMemory reserves size bytes of anonymous, private, zeroed memory
// outside the Go heap (backed by the kernel only where written); nil if
// the system refuses.
func mapMemory(size uint64) []byte {
	if size == 0 || size > 1<<32 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|mapNoReserve)
	if err != nil {
		return nil
	}
	return b
}

func unmapMemory(b []byte) { _ = syscall.Munmap(b) }
