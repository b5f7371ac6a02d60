package torture_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The model knows, for each key, every write the clients sent and when: the
// interval from just before the request went out to just after its answer
// came back. A read that ran over [rs, re] may return the value of a write W
// if and only if:
//
//   - W may have had an effect: it was acknowledged, is still in flight, or
//     failed in a way that leaves its effect unknown (a kill cut it, or the
//     server answered an error; we call it ambiguous); and no later read
//     has shown that it did not happen (then it is void);
//   - W started before the read ended;
//   - W was not superseded before the read started: there is no write W2
//     that started after W ended and that is known to have taken effect
//     before rs, because it was acknowledged before rs or because a read
//     that ended before rs returned its value.
//
// Each key starts with an acknowledged "absent" write, so a key never
// written must read as missing. These rules are the linearizability of a
// register, checked read by read; they allow every interleaving that
// concurrent clients and kills can produce, and nothing else: a lost
// acknowledged write, a delete undone, a stale read after a newer one was
// seen, a cut write that appears after a read had settled it, or bytes that
// were never written to the key are all violations.
//
// A read that matches exactly one write settles it: the write took effect
// before the read ended. That makes later reads stricter (a cut write seen
// once must stay, unless overwritten; one not seen after it ended is void).
// A write's start and end are taken under the model's lock, a read's just
// outside it, before its request and after its answer; the read is checked
// under the lock afterwards. So whatever a write did before a read ended
// (began, ended) is in the model when the read is checked.

// value is what a key holds after a write: nothing (a delete, and the
// initial state), or a content with the ETag that write gave it.
type value struct {
	c    *content // nil: absent
	etag string   // unquoted
	// unknown matches every observation: the possible values of a copy of
	// a copy of a copy... that the model does not follow further.
	unknown bool
}

var absent = value{}

func (v value) String() string {
	switch {
	case v.unknown:
		return "any value"
	case v.c == nil:
		return "absent"
	}
	return fmt.Sprintf("%v ETag %s", v.c, v.etag)
}

// copyOf is the value a copy of v has: the same bytes, a single-part ETag.
func copyOf(v value) value {
	if v.unknown {
		return v
	}
	return value{c: v.c, etag: hexMD5(v.c)}
}

type writeState int

const (
	inFlight  writeState = iota
	acked                // the server acknowledged it
	ambiguous            // cut by a kill or answered with an error: it may or may not have happened
	failed               // it certainly had no effect (a copy of a missing source)
)

func (s writeState) String() string {
	return [...]string{"in flight", "acknowledged", "ambiguous", "failed"}[s]
}

// write is one write (or delete) of a key, as the clients know it.
type write struct {
	seq        int
	key        string
	op         string
	start, end time.Time // end is zero while in flight
	state      writeState
	vals       []value // what the key holds if this write took effect
	// copyFrom names the source of a copy whose value is not known yet:
	// whatever the source could hold while the copy ran.
	copyFrom string
	void     bool // ambiguous, and a read showed it did not happen
	landed   bool // ambiguous, and a read showed it happened
	// supersededAt is when a later write is first known to have taken
	// effect; zero when none is.
	supersededAt time.Time
}

func (w *write) supersede(at time.Time) {
	if w.supersededAt.IsZero() || at.Before(w.supersededAt) {
		w.supersededAt = at
	}
}

// witness says that a write which started at after took effect before at:
// every write that ended before after is superseded from at on.
type witness struct{ after, at time.Time }

// settled is a read that matched one write.
type settled struct {
	w         *write
	readStart time.Time
}

type keyHistory struct {
	writes    []*write
	witnesses []witness
	settled   []settled
}

// model is what the clients know of a bucket, key by key.
type model struct {
	mu    sync.Mutex
	clock func() time.Time // time.Now, but for the model's own tests
	t0    time.Time
	seq   int
	keys  map[string]*keyHistory
}

// newModel returns a model of keys that do not exist yet.
func newModel(keys []string, clock func() time.Time) *model {
	if clock == nil {
		clock = time.Now
	}
	m := &model{clock: clock, t0: clock(), keys: make(map[string]*keyHistory)}
	for _, k := range keys {
		before := m.t0.Add(-time.Second)
		m.keys[k] = &keyHistory{writes: []*write{{key: k, op: "initial state", start: before, end: before, state: acked, vals: []value{absent}}}}
	}
	return m
}

// now is a timestamp for the interval of a read: the start is taken before
// the request goes out, the end after the answer is read.
func (m *model) now() time.Time { return m.clock() }

// begin records a write about to be sent, and its possible values (none
// for a copy, which takes them from copyFrom).
func (m *model) begin(key, op string, vals []value, copyFrom string) *write {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	w := &write{seq: m.seq, key: key, op: op, start: m.clock(), vals: vals, copyFrom: copyFrom}
	h := m.keys[key]
	h.writes = append(h.writes, w)
	return w
}

// finish records the outcome of a write. vals, when not nil, are its
// values as the answer revealed them (a copy's).
func (m *model) finish(w *write, st writeState, vals []value) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.end, w.state = m.clock(), st
	h := m.keys[w.key]
	switch {
	case vals != nil:
		w.vals, w.copyFrom = vals, ""
	case w.copyFrom != "" && st == failed:
		w.copyFrom = ""
	case w.copyFrom != "":
		// Whatever the source could hold while the copy ran.
		w.vals, w.copyFrom = m.valuesOf(w, w.end, 0), ""
	}
	for _, wt := range h.witnesses {
		if wt.after.After(w.end) {
			w.supersede(wt.at)
		}
	}
	switch st {
	case acked:
		m.addWitness(h, witness{after: w.start, at: w.end})
	case ambiguous:
		for _, s := range h.settled {
			if m.voids(s, w) {
				w.void = true
			}
		}
	}
}

// voids reports whether a settled read shows that the ambiguous write c did
// not happen: the read started after c ended, and returned a write that
// ended before c started, which c would have superseded.
func (m *model) voids(s settled, c *write) bool {
	return c.state == ambiguous && s.readStart.After(c.end) && !s.w.end.IsZero() && s.w.end.Before(c.start)
}

func (m *model) addWitness(h *keyHistory, wt witness) {
	h.witnesses = append(h.witnesses, wt)
	for _, x := range h.writes {
		if !x.end.IsZero() && x.end.Before(wt.after) {
			x.supersede(wt.at)
		}
	}
}

// legal reports whether w's value may be what a read over [rs, re] sees.
func (m *model) legal(w *write, rs, re time.Time) bool {
	if w.state == failed || w.void || !w.start.Before(re) {
		return false
	}
	return w.supersededAt.IsZero() || !w.supersededAt.Before(rs)
}

// valuesOf returns the values w may give its key, read before re. A copy
// in flight may give any value its source may hold while it runs.
func (m *model) valuesOf(w *write, re time.Time, depth int) []value {
	if w.copyFrom == "" {
		return w.vals
	}
	if depth > 2 {
		return []value{{unknown: true}}
	}
	end := re
	if !w.end.IsZero() && w.end.Before(end) {
		end = w.end
	}
	var out []value
	for _, sw := range m.keys[w.copyFrom].writes {
		if !m.legal(sw, w.start, end) {
			continue
		}
		for _, v := range m.valuesOf(sw, end, depth+1) {
			if v.unknown || v.c != nil { // a copy of nothing fails
				out = append(out, copyOf(v))
			}
		}
	}
	return out
}

// observation is what a read saw of a key.
type observation struct {
	desc  string
	match func(value) bool
}

func sawAbsent() observation {
	return observation{"no object", func(v value) bool { return v.unknown || v.c == nil }}
}

// sawBody is a whole GET: its bytes and ETag.
func sawBody(size int64, sum [32]byte, etag string) observation {
	return observation{
		fmt.Sprintf("%d bytes (sha256 %s) ETag %s", size, hex.EncodeToString(sum[:6]), etag),
		func(v value) bool {
			return v.unknown || v.c != nil && v.c.size == size && v.c.sha == sum && v.etag == etag
		},
	}
}

// sawETag is a HEAD or a listing entry: a size and an ETag.
func sawETag(size int64, etag string) observation {
	return observation{
		fmt.Sprintf("%d bytes, ETag %s", size, etag),
		func(v value) bool { return v.unknown || v.c != nil && v.c.size == size && v.etag == etag },
	}
}

// sawMD5 is a copy's source, known by the ETag of the copy.
func sawMD5(etag string) observation {
	return observation{
		"a source whose MD5 is " + etag,
		func(v value) bool { return v.unknown || v.c != nil && hexMD5(v.c) == etag },
	}
}

// sawRange is a ranged GET: n bytes from off of an object of total bytes.
func sawRange(total, off, n int64, sum [32]byte) observation {
	return observation{
		fmt.Sprintf("bytes %d-%d/%d (sha256 %s)", off, off+n-1, total, hex.EncodeToString(sum[:6])),
		func(v value) bool {
			return v.unknown || v.c != nil && v.c.size == total && off+n <= total && v.c.rangeSum(off, n) == sum
		},
	}
}

// sawNoByteAt is a 416 answer to a range starting at off.
func sawNoByteAt(off int64) observation {
	return observation{
		fmt.Sprintf("an object of at most %d bytes (416)", off),
		func(v value) bool { return v.unknown || v.c != nil && v.c.size <= off },
	}
}

// violation is a read that the model cannot explain.
type violation struct {
	kind   string // lost_write, stale_read, unsettled_write, failed_write_visible, foreign_bytes
	detail string
}

func (v *violation) Error() string { return v.kind + ": " + v.detail }

// check checks what a read over [rs, re] saw of key, and returns the values
// it matched. When it matches a single write, the read settles that write.
func (m *model) check(key string, rs, re time.Time, o observation) ([]value, *violation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.keys[key]
	if h == nil {
		return nil, &violation{"foreign_key", fmt.Sprintf("a read over %s saw %s under key %q, which no client ever wrote", m.span(rs, re), o.desc, key)}
	}
	var matched []*write
	var vals []value
	for _, w := range h.writes {
		if !m.legal(w, rs, re) {
			continue
		}
		for _, v := range m.valuesOf(w, re, 0) {
			if o.match(v) {
				matched = append(matched, w)
				vals = append(vals, v)
				break
			}
		}
	}
	if len(matched) == 0 {
		return nil, m.explain(h, key, rs, re, o)
	}
	if len(matched) == 1 && !vals[0].unknown {
		w := matched[0]
		if w.state == ambiguous {
			w.landed = true
		}
		m.addWitness(h, witness{after: w.start, at: re})
		s := settled{w: w, readStart: rs}
		h.settled = append(h.settled, s)
		for _, c := range h.writes {
			if m.voids(s, c) {
				c.void = true
			}
		}
	}
	return vals, nil
}

// explain says why no legal write matches an observation.
func (m *model) explain(h *keyHistory, key string, rs, re time.Time, o observation) *violation {
	kind := "foreign_bytes"
	if o.match(absent) {
		kind = "lost_write"
	}
	for _, w := range h.writes {
		match := false
		for _, v := range m.valuesOf(w, re, 0) {
			match = match || o.match(v)
		}
		switch {
		case !match:
		case w.void:
			kind = "unsettled_write"
		case w.state == failed:
			kind = "failed_write_visible"
		case kind == "foreign_bytes":
			kind = "stale_read" // an absence seen late stays a lost write
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "key %s: a read over %s saw %s; the model allows:", key, m.span(rs, re), o.desc)
	for _, w := range h.writes {
		if m.legal(w, rs, re) {
			fmt.Fprintf(&b, "\n\t\t#%d %s: %s", w.seq, w.op, m.describeValues(w, re))
		}
	}
	b.WriteString("\n\thistory of the key (oldest first):")
	ws := h.writes
	if len(ws) > 12 {
		fmt.Fprintf(&b, "\n\t\t(%d earlier writes)", len(ws)-12)
		ws = ws[len(ws)-12:]
	}
	for _, w := range ws {
		fmt.Fprintf(&b, "\n\t\t%s", m.describe(w, re))
	}
	return &violation{kind, b.String()}
}

func (m *model) describe(w *write, re time.Time) string {
	end := "…"
	if !w.end.IsZero() {
		end = m.ms(w.end)
	}
	s := fmt.Sprintf("#%d %s [%s, %s] %s", w.seq, w.op, m.ms(w.start), end, w.state)
	switch {
	case w.void:
		s += " (void: a read showed it did not happen)"
	case w.landed:
		s += " (a read showed it happened)"
	}
	if !w.supersededAt.IsZero() {
		s += " superseded at " + m.ms(w.supersededAt)
	}
	return s + ": " + m.describeValues(w, re)
}

func (m *model) describeValues(w *write, re time.Time) string {
	vs := m.valuesOf(w, re, 0)
	if len(vs) > 4 {
		return fmt.Sprintf("one of %d values (%v, ...)", len(vs), vs[:4])
	}
	var parts []string
	for _, v := range vs {
		parts = append(parts, v.String())
	}
	if w.copyFrom != "" {
		return "copy of " + w.copyFrom + " in flight: " + strings.Join(parts, " | ")
	}
	return strings.Join(parts, " | ")
}

// ms is a time relative to the start of the model, in milliseconds.
func (m *model) ms(t time.Time) string {
	return fmt.Sprintf("%.3fs", t.Sub(m.t0).Seconds())
}

func (m *model) span(rs, re time.Time) string { return "[" + m.ms(rs) + ", " + m.ms(re) + "]" }

// outcomes counts the writes by outcome, and the ambiguous ones by what
// reads later showed of them.
func (m *model) outcomes() (nAcked, nAmbiguous, nLanded, nVoid int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.keys {
		for _, w := range h.writes[1:] {
			switch w.state {
			case acked:
				nAcked++
			case ambiguous:
				nAmbiguous++
				if w.landed {
					nLanded++
				}
				if w.void {
					nVoid++
				}
			}
		}
	}
	return
}
