// Package memlimit keeps the Go runtime's soft memory limit a fixed headroom
// above the live heap, never below a floor. A limit fixed at start-up is
// wrong for a service whose view is loaded after it starts: one that bounds a
// small view's transient garbage (Badger's table building) squeezes a large
// view, and the GC then runs almost without pause. A headroom rather than a
// multiple (GOGC's rule) because the view is long-lived and pointer-free:
// what the GC has to keep up with is the per-event garbage, whose rate does
// not grow with the view, so neither should the heap it is given. Keep re-reads
// the live heap the last GC cycle measured (runtime/metrics, no forced GC)
// and moves the limit when it is off by more than a tenth.
package memlimit
