package store

// journalSize is how many commits the journal remembers: a loop that fell
// further behind than that does a full pass.
const journalSize = 4096

// journal is a ring of what the latest commits changed, for loops that
// work on what changed between their full passes. Guarded by Store.mu.
type journal struct {
	entries []journalEntry
	next    int
	// floor: what commits up to this index changed is not known (before
	// the journal began, or a snapshot replaced the state there).
	floor uint64
}

type journalEntry struct {
	index      uint64
	services   map[string]struct{}
	everything bool
}

func (j *journal) record(index uint64, services map[string]struct{}, everything bool) {
	if j.entries == nil {
		j.entries = make([]journalEntry, journalSize)
	}
	if old := j.entries[j.next]; old.index != 0 {
		j.floor = max(j.floor, old.index) // forgotten now
	}
	j.entries[j.next] = journalEntry{index: index, services: services, everything: everything}
	j.next = (j.next + 1) % journalSize
}

// reset forgets everything up to index (a snapshot was restored there).
func (j *journal) reset(index uint64) {
	j.entries, j.next, j.floor = nil, 0, index
}

// since merges what the commits after idx changed.
func (j *journal) since(idx uint64) (map[string]struct{}, bool) {
	if idx < j.floor {
		return nil, true
	}
	out := map[string]struct{}{}
	for _, e := range j.entries {
		if e.index <= idx {
			continue
		}
		if e.everything {
			return nil, true
		}
		for id := range e.services {
			out[id] = struct{}{}
		}
	}
	return out, false
}
