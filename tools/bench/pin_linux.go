package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinCPUs confines this process (the in-process broker, the load and the
// polling), and so the children it starts afterwards, to the first n CPUs it
// may run on, as `taskset -c 0,...,n-1` would; n <= 0 or beyond the allowed
// CPUs means all of them. It sets GOMAXPROCS to match (children read their
// affinity at start-up) and returns the CPUs chosen and a func that restores
// the previous affinity and GOMAXPROCS.
func pinCPUs(n int) (cpus []int, restore func(), err error) {
	var was unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		return nil, nil, fmt.Errorf("read CPU affinity: %w", err)
	}
	for c := range 1024 {
		if was.IsSet(c) && (n <= 0 || len(cpus) < n) {
			cpus = append(cpus, c)
		}
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	if err := setAllThreads(&set); err != nil {
		return nil, nil, err
	}
	procs := runtime.GOMAXPROCS(len(cpus))
	return cpus, func() {
		_ = setAllThreads(&was)
		runtime.GOMAXPROCS(procs)
	}, nil
}

// setAllThreads applies set to every thread of the process: affinity is per
// thread, and a thread the runtime starts later inherits its creator's. Two
// passes catch a thread started during the first.
func setAllThreads(set *unix.CPUSet) error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("list threads: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("set CPU affinity of thread %d: %w", tid, err)
			}
		}
	}
	return nil
}
