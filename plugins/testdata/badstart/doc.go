// Command badstart is a guest whose start function (_initialize, which
// runs package initialisation) panics, so it cannot be instantiated.
package main
