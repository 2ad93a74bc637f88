// Package cputime reads the CPU time this process has used. Benchmarks
// report throughput per CPU-second next to wall-clock throughput: on a
// shared machine the wall clock also counts time the process was not
// scheduled, while CPU time gives the per-core rate.
package cputime
