package torture_test

import (
	"testing"
	"time"
)

// TestModel checks the model's rules on small histories, each step one tick
// of a fake clock: what it must accept (every outcome that concurrency and
// kills allow) and what it must report, as which kind of violation.
func TestModel(t *testing.T) {
	type step func(h *modelHarness)
	put := func(name string, st writeState) step {
		return func(h *modelHarness) { h.finish(h.begin(name), st) }
	}
	del := func(st writeState) step {
		return func(h *modelHarness) { h.finish(h.beginDelete(), st) }
	}
	tests := []struct {
		name  string
		steps []step
		read  string // body name, or "" for a 404
		want  string // violation kind, or "" when legal
	}{
		{"never-written/reads-absent", nil, "", ""},
		{"never-written/reads-bytes", nil, "a", "foreign_bytes"},
		{"acked/reads-back", []step{put("a", acked)}, "a", ""},
		{"acked/lost", []step{put("a", acked)}, "", "lost_write"},
		{"overwritten/reads-new", []step{put("a", acked), put("b", acked)}, "b", ""},
		{"overwritten/reads-old", []step{put("a", acked), put("b", acked)}, "a", "stale_read"},
		{"deleted/stays-deleted", []step{put("a", acked), del(acked)}, "", ""},
		{"deleted/resurrected", []step{put("a", acked), del(acked)}, "a", "stale_read"},
		{"cut/landed", []step{put("a", acked), put("b", ambiguous)}, "b", ""},
		{"cut/did-not-land", []step{put("a", acked), put("b", ambiguous)}, "a", ""},
		{"cut-delete/landed", []step{put("a", acked), del(ambiguous)}, "", ""},
		{"failed-copy/invisible", []step{put("a", failed)}, "a", "failed_write_visible"},
		{"other-key-bytes", []step{put("a", acked)}, "z", "foreign_bytes"},
		{
			"cut/settled-absent-then-appears",
			[]step{put("a", acked), put("b", ambiguous), func(h *modelHarness) { h.mustRead("a") }},
			"b", "unsettled_write",
		},
		{
			"cut/settled-present-then-disappears",
			[]step{put("a", acked), put("b", ambiguous), func(h *modelHarness) { h.mustRead("b") }},
			"a", "stale_read",
		},
	}
	for _, tt := range tests {
		t.Run("history="+tt.name, func(t *testing.T) {
			h := newModelHarness(t)
			for _, s := range tt.steps {
				s(h)
			}
			if got := h.read(tt.read); got != tt.want {
				t.Fatalf("reading %q after the history: violation %q, want %q", tt.read, got, tt.want)
			}
		})
	}

	t.Run("history=concurrent", func(t *testing.T) {
		// A read that overlaps a write may see either side of it, and so
		// may a read that overlaps an acknowledged one.
		h := newModelHarness(t)
		h.finish(h.begin("a"), acked)
		rs := h.m.now()
		w := h.begin("b")
		for _, body := range []string{"a", "b"} {
			if got := h.readOver(rs, h.m.now(), body); got != "" {
				t.Fatalf("a read concurrent with the write of b saw %s: violation %q, want none", body, got)
			}
		}
		h.finish(w, acked)
		if got := h.readOver(rs, h.m.now(), "a"); got != "" {
			t.Fatalf("a read that overlaps the acknowledgement of b saw a: violation %q, want none", got)
		}
	})

	t.Run("history=copy", func(t *testing.T) {
		// A copy in flight may give its destination any value its source
		// may hold meanwhile; once acknowledged, the one its ETag names.
		h := newModelHarness(t)
		h.finish(h.begin("a"), acked)
		cp := h.m.begin("dst", "CopyObject", nil, "k")
		if got := h.readKey("dst", "a", true); got != "" {
			t.Fatalf("dst during a copy of a: violation %q, want none", got)
		}
		vals, v := h.m.check("k", cp.start, h.m.now(), sawMD5(h.value("a").etag))
		if v != nil {
			t.Fatalf("the copy's source: %v", v)
		}
		h.m.finish(cp, acked, []value{copyOf(vals[0])})
		if got := h.readKey("dst", "a", true); got != "" {
			t.Fatalf("dst after the copy: violation %q, want none", got)
		}
		if got := h.readKey("dst", "a", false); got != "lost_write" {
			t.Fatalf("dst read as absent after the copy: violation %q, want lost_write", got)
		}
	})
}

// modelHarness drives a model of one key, "k", on a clock that ticks by one
// millisecond at each reading. Bodies are named by letters.
type modelHarness struct {
	t    *testing.T
	m    *model
	vals map[string]value
}

func newModelHarness(t *testing.T) *modelHarness {
	now := time.Unix(1e9, 0)
	clock := func() time.Time { now = now.Add(time.Millisecond); return now }
	return &modelHarness{t: t, m: newModel([]string{"k", "dst"}, clock), vals: make(map[string]value)}
}

func (h *modelHarness) value(name string) value {
	if v, ok := h.vals[name]; ok {
		return v
	}
	c, etag := newContent(uint64(name[0]), int64(name[0]), 0)
	v := value{c: c, etag: etag}
	h.vals[name] = v
	return v
}

func (h *modelHarness) begin(name string) *write {
	return h.m.begin("k", "PutObject "+name, []value{h.value(name)}, "")
}

func (h *modelHarness) beginDelete() *write {
	return h.m.begin("k", "DeleteObject", []value{absent}, "")
}

func (h *modelHarness) finish(w *write, st writeState) { h.m.finish(w, st, nil) }

// read checks a read of k that saw body name ("" for none) and returns the
// kind of violation, "" if none.
func (h *modelHarness) read(name string) string {
	return h.readOver(h.m.now(), h.m.now(), name)
}

func (h *modelHarness) readKey(key, name string, present bool) string {
	o := sawAbsent()
	if present {
		v := h.value(name)
		o = sawBody(v.c.size, v.c.sha, hexMD5(v.c))
	}
	if _, v := h.m.check(key, h.m.now(), h.m.now(), o); v != nil {
		return v.kind
	}
	return ""
}

func (h *modelHarness) readOver(rs, re time.Time, name string) string {
	o := sawAbsent()
	if name != "" {
		v := h.value(name)
		o = sawBody(v.c.size, v.c.sha, v.etag)
	}
	if _, v := h.m.check("k", rs, re, o); v != nil {
		h.t.Logf("%v", v)
		return v.kind
	}
	return ""
}

func (h *modelHarness) mustRead(name string) {
	h.t.Helper()
	if got := h.read(name); got != "" {
		h.t.Fatalf("reading %q: violation %q, want none", name, got)
	}
}
