// Command encbench is a guest fixture for measuring the ABI encodings.
package main
