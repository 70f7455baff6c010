package lake

import "time"

// Store is the lake's storage seam, exported to the external tests so
// they can wrap it with fault injectors.
type Store = store

// WrapStore returns a Lake over wrap(l's store).
func WrapStore(l *Lake, wrap func(Store) Store) *Lake {
	return &Lake{st: wrap(l.st), pruneAge: l.pruneAge}
}

// SetPruneAge changes how old a pointer version must be to be pruned.
func SetPruneAge(l *Lake, d time.Duration) { l.pruneAge = d }
