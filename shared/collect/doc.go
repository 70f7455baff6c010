// Package collect is the collector core: it reads one cloud through a
// Provider and writes one committed snapshot to the lake.
package collect
