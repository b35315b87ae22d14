package daemon

import (
	"runtime/debug"
	"sync"
)

// releaseMemory returns to the OS the heap a start or a reload freed.
// Loading 1000 rules allocates about 70 MiB (CEL parsing and checking, and
// the SQL parser of the query lint at some 18 KiB a parse) of which about
// 10 MiB stays live. The collector frees the rest, but the runtime keeps
// freed pages up to its heap goal and its scavenger hands them back only
// slowly, so an idle daemon would carry the loader's garbage in its
// resident set (9 MiB of 64 with 1000 rules). FreeOSMemory collects and
// returns them at once; it costs one full collection, a few milliseconds,
// per start or reload.
func releaseMemory() { debug.FreeOSMemory() }

// loadGCPercent is the collector's GOGC while a configuration loads. At
// the default 100 the heap grows to twice what is live between
// collections, and what a load keeps (compiled rules, series) is scattered
// over spans its garbage filled: after the load, those spans stay, one live
// object among free slots, which FreeOSMemory cannot return. Collecting
// more often reuses the slots while the load allocates, so what it keeps is
// packed into fewer spans: with 1000 rules the idle daemon's anonymous
// memory went from about 24.5 to 21 MiB, for about 50 ms more to load.
const loadGCPercent = 25

// loadGC serialises loads' changes to the collector's setting, so that
// two loads at once restore the setting they found before either.
var loadGC sync.Mutex

// packHeap sets the collector to loadGCPercent for a load and returns the
// function that sets it back.
func packHeap() (restore func()) {
	loadGC.Lock()
	previous := debug.SetGCPercent(loadGCPercent)
	return func() {
		debug.SetGCPercent(previous)
		loadGC.Unlock()
	}
}
