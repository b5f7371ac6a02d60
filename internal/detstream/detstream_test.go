package detstream

import (
	"bytes"
	"io"
	"testing"
)

func TestRangesAgree(t *testing.T) {
	const size = 100_003
	whole, err := io.ReadAll(New("test", 7, 0, size))
	if err != nil || len(whole) != size {
		t.Fatalf("ReadAll: %d bytes, %v", len(whole), err)
	}
	if other, _ := io.ReadAll(New("test", 8, 0, size)); bytes.Equal(whole, other) {
		t.Fatal("two seeds give the same bytes")
	}
	if other, _ := io.ReadAll(New("other", 7, 0, size)); bytes.Equal(whole, other) {
		t.Fatal("two labels give the same bytes")
	}
	for _, r := range [][2]int64{{0, 1}, {15, 2}, {16, 16}, {4097, 50_000}, {size - 1, 1}} {
		part, err := io.ReadAll(New("test", 7, r[0], r[1]))
		if err != nil || !bytes.Equal(part, whole[r[0]:r[0]+r[1]]) {
			t.Errorf("range %d+%d differs from the whole stream", r[0], r[1])
		}
	}
	s := New("test", 7, 0, size)
	buf := make([]byte, 10)
	io.ReadFull(s, buf)
	if _, err := s.Seek(-5, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	tail, _ := io.ReadAll(s)
	if !bytes.Equal(tail, whole[size-5:]) {
		t.Error("Seek then Read differs from the whole stream")
	}
	if _, err := s.Seek(-1, io.SeekStart); err == nil {
		t.Error("a negative position was accepted")
	}
}
