// Package containerdtest helps tests that run a real containerd: the
// skip-or-fail rule (Need), a short state directory checked for leftover
// mounts, a pod bridge and range of each test's own (so that tests of
// several packages can run at once on one host), and small images built
// in-process. It is for tests only.
package containerdtest
