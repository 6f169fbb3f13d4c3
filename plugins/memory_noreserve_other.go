//go:build unix && !linux

package plugins

const mapNoReserve = 0
