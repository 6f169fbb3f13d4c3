// Command badstart is a guest fixture whose module fails to instantiate (bad start function).
package main
