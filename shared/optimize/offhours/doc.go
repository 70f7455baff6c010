// Package offhours finds the off-hours schedules the optimizer proposes
// for VMs from how they were used.
//
// Observed running windows (window.go) are found from a VM's hourly CPU
// series: Detect buckets the hours into local (weekday, hour) cells of a
// time zone, marks each hour active or idle, and returns the smallest
// weekly stop/start schedule that keeps at least a given share of the
// active hours inside its running window, with the exact count of the
// active hours it would have stopped.
//
// The package depends on the standard library and the domain package
// only.
package offhours
