package vault_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"github.com/coffre-cloud/coffre/vault"
)

// readerOnly reads through Read alone, whatever else the reader has.
type readerOnly struct{ io.Reader }

// shortWriter fails after max bytes, as a client that goes away.
type shortWriter struct {
	buf bytes.Buffer
	max int
}

func (w *shortWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		n := w.max - w.buf.Len()
		w.buf.Write(p[:n])
		return n, io.ErrClosedPipe
	}
	return w.buf.Write(p)
}

// TestOpenRanges: an opened range reads exactly its bytes, with io.Copy (as
// s3api sends a GET) and with small reads, for every shape of object
// (inline, one blob decrypted inline, one prefetched blob, a multipart
// object across blobs) and ranges that start, end and cross blob
// boundaries; a writer's error is returned as is.
func TestOpenRanges(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "wto")
	body := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	objects := map[string][]byte{
		"inline": body(5000),
		"small":  body(300 << 10),
		"large":  body(3<<20 + 12345),
		"empty":  nil,
		"parts":  nil,
	}
	for _, k := range []string{"inline", "small", "large", "empty"} {
		e.put(t, "wto", k, string(objects[k]))
	}
	part1, part2 := body(vault.MinPartSize), body(2<<20+7)
	objects["parts"] = append(append([]byte(nil), part1...), part2...)
	u, err := e.v.CreateUpload(e.ctx, e.p, "wto", "parts", vault.ObjectAttrs{}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var parts []vault.CompletePart
	for n, part := range [][]byte{part1, part2} {
		p, err := e.v.UploadPart(e.ctx, e.p, "wto", "parts", u.ID, n+1, vault.PutInput{Body: bytes.NewReader(part), Size: int64(len(part))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, vault.CompletePart{Number: n + 1, ETag: p.ETag})
	}
	if _, err := e.v.CompleteUpload(e.ctx, e.p, "wto", "parts", u.ID, vault.CompleteInput{Parts: parts}); err != nil {
		t.Fatal(err)
	}
	for key, want := range objects {
		o, err := e.v.GetObject(e.ctx, e.p, "wto", key, "")
		if err != nil {
			t.Fatal(err)
		}
		size := int64(len(want))
		b := int64(vault.MinPartSize)
		for _, rg := range [][2]int64{{0, -1}, {0, size}, {1, size - 2}, {size / 2, -1}, {b - 10, 20}, {b, 300 << 10}, {b - (1 << 20), 2 << 20}, {size - 1, 1}} {
			off, n := rg[0], rg[1]
			if off < 0 || off > size || n > size-off || (size == 0 && off > 0) {
				continue
			}
			end := size
			if n >= 0 {
				end = off + n
			}
			t.Run(fmt.Sprintf("key=%s/range=%d+%d", key, off, n), func(t *testing.T) {
				rc, err := e.v.Open(e.ctx, o, off, n)
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				_, err = io.Copy(&got, rc)
				rc.Close()
				if err != nil || !bytes.Equal(got.Bytes(), want[off:end]) {
					t.Fatalf("io.Copy: %d bytes, %v; want %d bytes", got.Len(), err, end-off)
				}
				rc, _ = e.v.Open(e.ctx, o, off, n)
				viaRead, err := io.ReadAll(readerOnly{rc})
				rc.Close()
				if err != nil || !bytes.Equal(viaRead, want[off:end]) {
					t.Fatalf("Read: %d bytes, %v", len(viaRead), err)
				}
			})
		}
	}
	// A writer that fails: its error, not a backend's.
	o, _ := e.v.GetObject(e.ctx, e.p, "wto", "parts", "")
	rc, _ := e.v.Open(e.ctx, o, 0, -1)
	w := &shortWriter{max: 1 << 20}
	n, err := io.Copy(w, rc)
	rc.Close()
	if err != io.ErrClosedPipe || n != 1<<20 || !bytes.Equal(w.buf.Bytes(), objects["parts"][:1<<20]) {
		t.Fatalf("io.Copy to a writer failing after 1 MiB: %d, %v", n, err)
	}
}
