// Command hostile is a guest fixture that misbehaves on request: loops forever, exhausts memory, traps, panics or answers garbage.
package main
