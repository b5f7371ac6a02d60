package vault

import (
	"io"
	"sync"

	"github.com/coffre-cloud/coffre/crypt"
)

// Decrypting a large GET on the goroutine that also writes the response
// keeps one core busy with both. prefetchReader decrypts ahead on its own
// goroutine into a few buffers, so that decryption and the socket overlap.
// Small reads do not use it: they would pay the goroutine for nothing.

const (
	prefetchBuf   = 256 << 10
	prefetchDepth = 3
	prefetchMin   = 1 << 20 // reads shorter than this decrypt inline
)

var prefetchPool = sync.Pool{New: func() any { b := make([]byte, prefetchBuf); return &b }}

type prefetched struct {
	buf *[]byte
	n   int
}

type prefetchReader struct {
	full chan prefetched // buffers holding data, in order
	done chan struct{}
	once sync.Once
	err  error // set before full is closed

	cur  *[]byte
	data []byte // unread part of *cur
}

func newPrefetchReader(r io.Reader) *prefetchReader {
	p := &prefetchReader{full: make(chan prefetched, prefetchDepth), done: make(chan struct{})}
	go func() {
		defer close(p.full)
		// The first buffer holds one chunk, so that the response's first
		// byte does not wait for a whole buffer to be read and decrypted.
		size := crypt.ChunkSize
		for {
			bp := prefetchPool.Get().(*[]byte)
			n, err := io.ReadFull(r, (*bp)[:size])
			size = prefetchBuf
			if n > 0 {
				select {
				case p.full <- prefetched{bp, n}:
				case <-p.done:
					prefetchPool.Put(bp)
					return
				}
			} else {
				prefetchPool.Put(bp)
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					p.err = err
				}
				return
			}
		}
	}()
	return p
}

func (p *prefetchReader) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		if p.cur != nil {
			prefetchPool.Put(p.cur)
			p.cur = nil
		}
		f, ok := <-p.full
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.cur, p.data = f.buf, (*f.buf)[:f.n]
	}
	n := copy(b, p.data)
	p.data = p.data[n:]
	return n, nil
}

// stop ends the goroutine; the caller then closes the source, which makes a
// read in progress return.
func (p *prefetchReader) stop() {
	p.once.Do(func() { close(p.done) })
	// The buffer a reader stopped in (a range ends mid-buffer) goes back
	// to the pool too.
	if p.cur != nil {
		prefetchPool.Put(p.cur)
		p.cur, p.data = nil, nil
	}
}
