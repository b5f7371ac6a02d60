package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/textproto"
)

const (
	// maxLineLength bounds a chunk-size line or a trailer line; it is also
	// the size of the read buffer, which is all the decoder keeps besides
	// hash states.
	maxLineLength = 4096
	// minChunkSize is the smallest chunk AWS accepts, except for the last
	// data chunk.
	minChunkSize = 8192
	// maxChunkSizeDigits keeps chunk sizes well inside int64.
	maxChunkSizeDigits = 15
	// maxTrailerLines bounds the lines of the trailer section, empty ones
	// included.
	maxTrailerLines = maxTrailers + 4

	payloadAlgorithm = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlgorithm = "AWS4-HMAC-SHA256-TRAILER"
	trailerSigName   = "x-amz-trailer-signature"
)

// signingContext carries what chunk and trailer signatures are computed
// from: the signing key, the request date and scope, and the seed signature
// (the request's own signature), which the first chunk's signature chains
// from.
type signingContext struct {
	ent     *keyEntry
	amzDate string
	scope   string
	seed    [32]byte
}

type trailerMode int

const (
	trailersNone trailerMode = iota
	trailersUnsigned
	trailersSigned
)

type chunkState int

const (
	stHeader  chunkState = iota // expecting a chunk-size line
	stData                      // inside chunk data
	stDataEnd                   // expecting the CRLF after chunk data
	stTrailer                   // after the 0-size chunk: trailer lines
	stDone                      // verified; io.EOF
)

var errClosed = errors.New("sigv4: read on closed body")

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//	[name:value\r\n ...] [x-amz-trailer-signature:sig\r\n] \r\n
//
// It keeps one read buffer of maxLineLength bytes and hash states, whatever
// the chunk size: chunk data goes straight to the caller, hashed on the way,
// and the chunk's signature is checked when its last byte has been read.
type chunkedReader struct {
	src      io.ReadCloser
	br       *bufio.Reader
	signed   bool // chunks carry chunk-signature extensions
	trailers trailerMode
	declared []string // x-amz-trailer names, lower case
	want     int64    // x-amz-decoded-content-length

	sc        signingContext
	mac       hash.Hash // keyed with the signing key; nil when unsigned
	chunkHash hash.Hash // SHA-256 of the current chunk's data
	prevSig   [32]byte
	chunkSig  [32]byte
	sum       [32]byte
	sts       []byte // string-to-sign buffer

	state     chunkState
	remaining int64 // bytes left in the current chunk
	chunks    int   // chunk headers read
	prevSize  int64 // size of the previous chunk
	decoded   int64
	trailer   http.Header
	err       error // sticky
}

func newChunkedReader(src io.ReadCloser, mode payloadMode, want int64, declared []string, sc *signingContext) *chunkedReader {
	cr := &chunkedReader{
		src:      src,
		br:       bufio.NewReaderSize(src, maxLineLength),
		want:     want,
		declared: declared,
	}
	switch mode {
	case modeStreamingSigned:
		cr.signed = true
	case modeStreamingSignedTrailer:
		cr.signed, cr.trailers = true, trailersSigned
	case modeStreamingUnsignedTrailer:
		cr.trailers = trailersUnsigned
	}
	if cr.signed {
		cr.sc = *sc
		cr.mac = sc.ent.getMAC()
		cr.chunkHash = sha256.New()
		cr.prevSig = sc.seed
		cr.sts = make([]byte, 0, 256)
	}
	return cr
}

// Read implements io.Reader; see Result.Body for its contract.
func (cr *chunkedReader) Read(p []byte) (int, error) {
	for {
		if cr.err != nil {
			return 0, cr.err
		}
		switch cr.state {
		case stHeader:
			cr.err = cr.readChunkHeader()
		case stData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > cr.remaining {
				p = p[:cr.remaining]
			}
			n, err := cr.br.Read(p)
			if n > 0 {
				if cr.signed {
					cr.chunkHash.Write(p[:n])
				}
				cr.remaining -= int64(n)
				cr.decoded += int64(n)
				if cr.remaining == 0 {
					cr.state = stDataEnd
				}
			}
			if err != nil {
				if err == io.EOF {
					err = fmt.Errorf("%w: the body ended inside chunk %d", ErrIncompleteBody, cr.chunks)
				}
				cr.err = incomplete(err)
			}
			if n > 0 {
				return n, nil
			}
		case stDataEnd:
			cr.err = cr.endChunk()
		case stTrailer:
			cr.err = cr.readTrailers()
		case stDone:
			return 0, io.EOF
		}
	}
}

// Trailer returns the trailing headers once the body has been read and
// verified to its end, nil before.
func (cr *chunkedReader) Trailer() http.Header {
	if cr.state != stDone || cr.err != nil {
		return nil
	}
	return cr.trailer
}

// Close closes the request body and returns the HMAC state to its pool.
func (cr *chunkedReader) Close() error {
	if cr.mac != nil {
		cr.sc.ent.putMAC(cr.mac)
		cr.mac = nil
	}
	if cr.err == nil && cr.state != stDone {
		cr.err = errClosed
	}
	return cr.src.Close()
}

// readLine returns the next line without its "\n" or "\r\n". The line is
// only valid until the next read.
func (cr *chunkedReader) readLine(malformed error) ([]byte, error) {
	line, err := cr.br.ReadSlice('\n')
	if err != nil {
		switch err {
		case bufio.ErrBufferFull:
			return nil, fmt.Errorf("%w: line longer than %d bytes", malformed, maxLineLength)
		case io.EOF:
			return nil, fmt.Errorf("%w: the body ended inside the aws-chunked framing", ErrIncompleteBody)
		}
		return nil, incomplete(err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func (cr *chunkedReader) readChunkHeader() error {
	line, err := cr.readLine(ErrMalformedChunk)
	if err != nil {
		return err
	}
	sizeField, ext, hasExt := bytes.Cut(line, []byte(";"))
	size, ok := parseChunkSize(sizeField)
	if !ok {
		return fmt.Errorf("%w: chunk %d: invalid chunk size %q", ErrMalformedChunk, cr.chunks+1, truncate(string(sizeField), 40))
	}
	if cr.signed {
		sig, ok := bytes.CutPrefix(ext, []byte("chunk-signature="))
		if !hasExt || !ok || !decodeHex32(&cr.chunkSig, sig) {
			return fmt.Errorf("%w: chunk %d: expected ;chunk-signature=<64 hex digits>", ErrMalformedChunk, cr.chunks+1)
		}
	}
	if cr.chunks > 0 && size > 0 && cr.prevSize < minChunkSize {
		return fmt.Errorf("%w: chunk %d has %d bytes and is not the last one", ErrInvalidChunkSize, cr.chunks, cr.prevSize)
	}
	cr.chunks++
	cr.prevSize = size
	if size > cr.want-cr.decoded {
		return fmt.Errorf("%w: the chunks hold more than x-amz-decoded-content-length %d bytes", ErrIncompleteBody, cr.want)
	}
	cr.remaining = size
	if cr.signed {
		cr.chunkHash.Reset()
	}
	if size > 0 {
		cr.state = stData
		return nil
	}
	// The 0-size chunk ends the data: it has no data CRLF, what follows is
	// the trailer section.
	if cr.signed {
		if err := cr.verifyChunk(); err != nil {
			return err
		}
	}
	if cr.decoded != cr.want {
		return fmt.Errorf("%w: decoded %d bytes, x-amz-decoded-content-length is %d", ErrIncompleteBody, cr.decoded, cr.want)
	}
	cr.state = stTrailer
	return nil
}

// parseChunkSize parses 1 to maxChunkSizeDigits hex digits.
func parseChunkSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > maxChunkSizeDigits {
		return 0, false
	}
	var n int64
	for _, c := range b {
		d, ok := fromHex(c)
		if !ok {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

func (cr *chunkedReader) endChunk() error {
	c1, err1 := cr.br.ReadByte()
	c2, err2 := cr.br.ReadByte()
	if err := errors.Join(err1, err2); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: the body ended after the data of chunk %d", ErrIncompleteBody, cr.chunks)
		}
		return incomplete(err)
	}
	if c1 != '\r' || c2 != '\n' {
		return fmt.Errorf("%w: chunk %d: data not followed by CRLF (chunk size wrong?)", ErrMalformedChunk, cr.chunks)
	}
	if cr.signed {
		if err := cr.verifyChunk(); err != nil {
			return err
		}
	}
	cr.state = stHeader
	return nil
}

// verifyChunk checks the signature of the chunk just read:
//
//	AWS4-HMAC-SHA256-PAYLOAD \n date \n scope \n previous-signature \n
//	hex(sha256("")) \n hex(sha256(chunk-data))
func (cr *chunkedReader) verifyChunk() error {
	b := cr.sts[:0]
	b = append(b, payloadAlgorithm+"\n"...)
	b = cr.appendDateScopePrev(b)
	b = append(b, emptySHA256Hex+"\n"...)
	b = hex.AppendEncode(b, cr.chunkHash.Sum(cr.sum[:0]))
	return cr.checkSignature(b, "chunk")
}

func (cr *chunkedReader) appendDateScopePrev(b []byte) []byte {
	b = append(b, cr.sc.amzDate...)
	b = append(b, '\n')
	b = append(b, cr.sc.scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, cr.prevSig[:])
	return append(b, '\n')
}

// checkSignature compares HMAC(signing key, sts) with cr.chunkSig and
// chains it as the previous signature.
func (cr *chunkedReader) checkSignature(sts []byte, what string) error {
	cr.sts = sts
	cr.mac.Reset()
	cr.mac.Write(sts)
	if !hmac.Equal(cr.mac.Sum(cr.sum[:0]), cr.chunkSig[:]) {
		if what == "chunk" {
			return fmt.Errorf("%w: signature of chunk %d", ErrSignatureDoesNotMatch, cr.chunks)
		}
		return fmt.Errorf("%w: %s", ErrSignatureDoesNotMatch, what)
	}
	cr.prevSig = cr.chunkSig
	return nil
}

// readTrailers reads the trailer section up to its empty line, checks the
// names against x-amz-trailer and, for the signed variant, the trailer
// signature:
//
//	AWS4-HMAC-SHA256-TRAILER \n date \n scope \n previous-signature \n
//	hex(sha256("name:value\n" for each trailer, in order))
//
// Some clients (minio-go) put an empty line between the trailers and the
// signature line; before the signature has been seen, empty lines are
// skipped in the signed variant.
func (cr *chunkedReader) readTrailers() error {
	var th hash.Hash
	if cr.trailers == trailersSigned {
		th = sha256.New()
	}
	sawSig := false
	for lines := 0; ; lines++ {
		if lines == maxTrailerLines {
			return fmt.Errorf("%w: more than %d trailer lines", ErrMalformedTrailer, maxTrailerLines)
		}
		line, err := cr.readLine(ErrMalformedTrailer)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if cr.trailers == trailersSigned && !sawSig {
				continue
			}
			break
		}
		if cr.trailers == trailersNone {
			return fmt.Errorf("%w: trailing data after the last chunk of a payload without trailers", ErrMalformedTrailer)
		}
		rawName, rawValue, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return fmt.Errorf("%w: trailer line without ':'", ErrMalformedTrailer)
		}
		name := string(bytes.ToLower(bytes.TrimSpace(rawName)))
		value := string(bytes.TrimSpace(rawValue))
		if cr.trailers == trailersSigned && name == trailerSigName {
			if sawSig || !decodeHex32(&cr.chunkSig, value) {
				return fmt.Errorf("%w: bad or repeated %s", ErrMalformedTrailer, trailerSigName)
			}
			sawSig = true
			continue
		}
		switch {
		case sawSig:
			return fmt.Errorf("%w: trailer %q after %s", ErrMalformedTrailer, truncate(name, 64), trailerSigName)
		case !cr.isDeclared(name):
			return fmt.Errorf("%w: trailer %q is not declared in x-amz-trailer", ErrMalformedTrailer, truncate(name, 64))
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if cr.trailer == nil {
			cr.trailer = make(http.Header, len(cr.declared))
		}
		if _, dup := cr.trailer[key]; dup {
			return fmt.Errorf("%w: trailer %q appears twice", ErrMalformedTrailer, name)
		}
		cr.trailer[key] = []string{value}
		if th != nil {
			th.Write([]byte(name))
			th.Write([]byte{':'})
			th.Write([]byte(value))
			th.Write([]byte{'\n'})
		}
	}
	for _, name := range cr.declared {
		if _, ok := cr.trailer[textproto.CanonicalMIMEHeaderKey(name)]; !ok {
			return fmt.Errorf("%w: trailer %q declared in x-amz-trailer is missing", ErrMalformedTrailer, name)
		}
	}
	if th != nil {
		if !sawSig {
			return fmt.Errorf("%w: missing %s", ErrMalformedTrailer, trailerSigName)
		}
		b := cr.sts[:0]
		b = append(b, trailerAlgorithm+"\n"...)
		b = cr.appendDateScopePrev(b)
		b = hex.AppendEncode(b, th.Sum(cr.sum[:0]))
		if err := cr.checkSignature(b, "trailer signature"); err != nil {
			return err
		}
	}
	cr.state = stDone
	return nil
}

func (cr *chunkedReader) isDeclared(name string) bool {
	for _, d := range cr.declared {
		if d == name {
			return true
		}
	}
	return false
}
