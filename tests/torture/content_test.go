package torture_test

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/coffre-cloud/coffre/internal/detstream"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	// partSize is the size of every part of a completed multipart upload
	// but the last: the smallest S3 allows.
	partSize = 5 * mib
)

// stream is size bytes, from byte base on, of the deterministic stream of
// a seed (internal/detstream): bodies are written and checked without being
// held in memory.
type stream = detstream.Stream

func newStream(seed uint64, base, size int64) *stream {
	return detstream.New("coffre torture stream", seed, base, size)
}

// content is a body the workload writes: size bytes of seed's stream.
// Copies keep the content of their source.
type content struct {
	seed uint64
	size int64
	sha  [32]byte
	md5  [16]byte
}

// newContent hashes size bytes of seed's stream. With parts > 0 it also
// returns the multipart ETag of that body cut in parts of partSize (the last
// shorter), else its single-part ETag (the MD5).
func newContent(seed uint64, size int64, parts int) (*content, string) {
	c := &content{seed: seed, size: size}
	sh, whole := sha256.New(), md5.New()
	var partSums []byte
	buf := make([]byte, 256*kib)
	s := newStream(seed, 0, size)
	for off := int64(0); ; off += partSize {
		pm := md5.New()
		n := min(partSize, size-off)
		w := io.MultiWriter(sh, whole, pm)
		if _, err := io.CopyBuffer(w, io.LimitReader(struct{ io.Reader }{s}, n), buf); err != nil {
			panic(err) // a stream never fails
		}
		partSums = pm.Sum(partSums)
		if off+n >= size {
			break
		}
	}
	c.sha = [32]byte(sh.Sum(nil))
	c.md5 = [16]byte(whole.Sum(nil))
	if parts == 0 {
		return c, hex.EncodeToString(c.md5[:])
	}
	sum := md5.Sum(partSums)
	return c, fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), parts)
}

func (c *content) String() string {
	return fmt.Sprintf("%d bytes of stream %#x (sha256 %s)", c.size, c.seed, hex.EncodeToString(c.sha[:6]))
}

// rangeSum returns the SHA-256 of bytes [off, off+n) of c.
func (c *content) rangeSum(off, n int64) [32]byte {
	return sumReader(newStream(c.seed, off, n))
}

// sumReader hashes r to its end; r must not fail.
func sumReader(r io.Reader) [32]byte {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, 64*kib)); err != nil {
		panic(err)
	}
	return [32]byte(h.Sum(nil))
}

// readAll hashes what r yields until its end or an error.
func readAll(r io.Reader) (sum [32]byte, n int64, err error) {
	var h hash.Hash = sha256.New()
	n, err = io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, 256*kib))
	return [32]byte(h.Sum(nil)), n, err
}

// hexMD5 is the single-part ETag of c.
func hexMD5(c *content) string { return hex.EncodeToString(c.md5[:]) }
