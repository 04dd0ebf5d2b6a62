//go:build !linux

package bench

import "errors"

func pinCPUs(int) ([]int, func(), error) {
	return nil, nil, errors.New("--cpus needs Linux (sched_setaffinity)")
}
