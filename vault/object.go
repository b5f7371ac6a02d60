package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/crypt"
	"github.com/coffre-cloud/coffre/meta"
)

// ValidKey checks an object key: 1 to 1024 bytes of UTF-8 without NUL.
func ValidKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: object key must not be empty", ErrInvalidArgument)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrKeyTooLong, len(key), MaxKeyLength)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: object key must be valid UTF-8", ErrInvalidArgument)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: object key must not contain NUL", ErrInvalidArgument)
	}
	return nil
}

// PutInput is the body and attributes of a new object version.
type PutInput struct {
	Body  io.Reader
	Size  int64 // exact number of bytes Body yields
	Attrs ObjectAttrs
	// Checksum, when not nil, is called once Body has returned io.EOF and
	// gives the verified checksum to store with the object.
	Checksum func() *Checksum
	// CustomerKey, when not nil, is an SSE-C key: the data can only be
	// read back with it.
	CustomerKey []byte
	// Precondition, when not nil, is checked atomically with the commit
	// against the current live version (nil when there is none); an error
	// refuses the write (conditional writes: If-Match, If-None-Match).
	Precondition func(current *Object) error
}

// The payload stream: crypt's, always. These are variables only so that
// the end-to-end benchmarks can measure what encryption costs against a
// null cipher of the same layout (export_test.go); nothing else sets them.
var (
	newPayloadWriter = func(dst io.Writer, dek, ad []byte) (payloadWriter, error) {
		w, err := crypt.NewWriter(dst, dek, ad)
		if err != nil {
			return nil, err
		}
		return w, nil
	}
	newPayloadReader = func(src io.Reader, dek, ad, header []byte, off, n, size int64) (io.Reader, error) {
		r, err := crypt.NewRangeReader(src, dek, ad, header, off, n, size)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
)

// payloadWriter is what writeBlob needs of a *crypt.Writer.
type payloadWriter interface {
	io.WriteCloser
	Header() []byte
}

// blobPlace is where a blob belongs: tenant, bucket and key are its
// payload's associated data; offer is where its bytes go, which the
// associated data leaves out so that a migration can move them.
type blobPlace struct {
	tenant, bucketID, key, offer string
	inline                       bool // may be kept in the metadata store
}

// errPipeAborted stops the encrypting goroutine when the backend gives up.
var errPipeAborted = errors.New("vault: blob write aborted")

// writeBlob encrypts body into a fresh blob under a fresh data key and
// returns the blob's record and the body's MD5. The error says whose fault
// a failure is: the client's body (its own error, or ErrIncompleteBody), the
// key store (ErrKeyUnavailable: nothing is written) or the backend
// (ErrBackendUnavailable).
//
// Three goroutines share the work: this one writes ciphertext to the
// backend, one reads the body (verifying its signature and checksums) and
// encrypts it, and md5Reader's hashes it for the ETag.
func (v *Vault) writeBlob(ctx context.Context, at blobPlace, body io.Reader, size int64, customerKey []byte) (Blob, string, error) {
	if size < 0 {
		return Blob{}, "", fmt.Errorf("%w: the object size must be known", ErrInvalidArgument)
	}
	if size > MaxPutSize {
		return Blob{}, "", fmt.Errorf("%w: %d bytes in one request, the limit is %d", ErrEntityTooLarge, size, int64(MaxPutSize))
	}
	inline := at.inline && v.inlineMax > 0 && size <= v.inlineMax
	var store backend.Store
	if !inline {
		var err error
		if store, err = v.offerStore(at.offer); err != nil {
			return Blob{}, "", err
		}
	}
	b := Blob{Name: newBlobName(), Size: size, SSEC: customerKey != nil, offer: v.offerName(at.offer)}
	dek, wrapped, kek, aead, err := v.wrapDEK(ctx, at.tenant, b.Name, customerKey)
	if err != nil {
		return Blob{}, "", err
	}
	defer clear(dek)
	b.DEK, b.KEK, b.kekAEAD = wrapped, kek, aead
	if inline {
		return v.sealInline(ctx, at, b, body, dek)
	}

	md := newMD5Reader(body)
	pr, pw := io.Pipe()
	header := make(chan []byte, 1)
	encErr := make(chan error, 1)
	go func() {
		w, err := newPayloadWriter(pw, dek, payloadAD(at.tenant, at.bucketID, at.key, b.Name))
		if err == nil {
			header <- w.Header()
			_, err = io.Copy(w, md) // to EOF: signature and checksum checks end there
			if err == nil {
				err = w.Close()
			}
		}
		pw.CloseWithError(err) // nil: the backend sees EOF
		encErr <- err
	}()
	v.writing.Store(b.Name, struct{}{})
	err = store.Put(ctx, b.Name, pr, crypt.CiphertextSize(size))
	pr.CloseWithError(errPipeAborted)
	eerr := <-encErr
	etag := md.sum()
	if err != nil || eerr != nil {
		v.writing.Delete(b.Name)
		return Blob{}, "", bodyError(ctx, md, size, err, eerr)
	}
	b.Header = <-header
	return b, etag, nil
}

// bodyError says whose fault a failed write is: the client's body (an
// error reading it), the request's end, the backend (storeErr: it stops
// reading the body, which then comes up short through no fault of the
// client's), a body shorter than announced, or the encryption (encErr).
func bodyError(ctx context.Context, md *md5Reader, size int64, storeErr, encErr error) error {
	switch {
	case md.err != nil && md.err != io.EOF:
		return md.err
	case ctx.Err() != nil:
		return ctx.Err()
	case storeErr != nil:
		return fmt.Errorf("%w: %v", ErrBackendUnavailable, storeErr)
	case md.n < size:
		return fmt.Errorf("%w: got %d of %d bytes", ErrIncompleteBody, md.n, size)
	}
	return encErr
}

// sealInline encrypts a small body into memory: the commit keeps it in the
// metadata store, with the object's record, so that a small PUT costs one
// durable commit instead of a blob file, its directory and the commit.
func (v *Vault) sealInline(ctx context.Context, at blobPlace, b Blob, body io.Reader, dek []byte) (Blob, string, error) {
	md := newInlineMD5Reader(body)
	buf := bytes.NewBuffer(make([]byte, 0, crypt.CiphertextSize(b.Size)))
	w, err := newPayloadWriter(buf, dek, payloadAD(at.tenant, at.bucketID, at.key, b.Name))
	if err == nil {
		_, err = io.Copy(w, md) // to EOF: signature and checksum checks end there
		if err == nil {
			err = w.Close()
		}
	}
	etag := md.sum()
	if err == nil && md.n > b.Size {
		err = fmt.Errorf("%w: the body has more than the %d bytes announced", ErrInvalidArgument, b.Size)
	}
	if err != nil || md.n != b.Size {
		return Blob{}, "", bodyError(ctx, md, b.Size, nil, err)
	}
	b.Header, b.Inline, b.data, b.offer = w.Header(), true, buf.Bytes(), ""
	return b, etag, nil
}

// PutObject stores a new version of an object.
func (v *Vault) PutObject(ctx context.Context, p Principal, bucket, key string, in PutInput) (*Object, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	b, err := v.writeBucket(ctx, p, bucket)
	if err != nil {
		return nil, err
	}
	if err := v.precheckQuota(ctx, b, key, in.Size); err != nil {
		return nil, err
	}
	blob, etag, err := v.writeBlob(ctx, blobPlace{p.Tenant, b.ID, key, b.Offer, true}, in.Body, in.Size, in.CustomerKey)
	if err != nil {
		return nil, err
	}
	defer v.writing.Delete(blob.Name) // committed (referenced) or removed by then
	o := &Object{Key: key, Size: in.Size, ETag: etag, Blobs: []Blob{blob}, tenant: p.Tenant, bucketID: b.ID}
	if in.CustomerKey != nil {
		o.SSEC = newSSEC(in.CustomerKey, blob.Name)
	}
	in.Attrs.applyTo(o)
	if in.Checksum != nil {
		o.Checksum = in.Checksum()
	}
	var check func(meta.Tx, Bucket) error
	if in.Precondition != nil {
		check = func(tx meta.Tx, b Bucket) error {
			cur, _, err := findVersion(tx, b, key, "")
			if err != nil {
				return err
			}
			if cur != nil && cur.DeleteMarker {
				cur = nil
			}
			if err := in.Precondition(cur); err != nil {
				return vaultError{err}
			}
			return nil
		}
	}
	if err := v.commit(ctx, p, bucket, o, check); err != nil {
		v.removeBlob(blob)
		return nil, err
	}
	return o, nil
}

// commit makes o the newest version of its key in one transaction. extra,
// if not nil, runs in the same transaction (multipart completion drops the
// upload there).
func (v *Vault) commit(ctx context.Context, p Principal, bucket string, o *Object, extra func(meta.Tx, Bucket) error) error {
	var garbage []string
	err := v.updateBinding(ctx, p.Tenant, func(mtx meta.Tx) error {
		garbage = garbage[:0]
		tx := withUsage(mtx)
		// The cache is exact here: every change of a bucket commits on
		// this same writer, before this transaction, and makes it stale.
		b, err := v.readBucket(ctx, tx, p, bucket)
		if err != nil {
			return err
		}
		if o.bucketID != "" && o.bucketID != b.ID {
			// Deleted and made again while the bytes were written: they
			// are bound to the old bucket.
			return fail("%w: %s", ErrNoSuchBucket, bucket)
		}
		o.tenant, o.bucketID = b.Tenant, b.ID
		if extra != nil {
			if err := extra(tx, b); err != nil {
				return err
			}
		}
		for i := range o.Blobs {
			bl := &o.Blobs[i]
			if bl.data == nil && bl.offer == "" {
				continue // a part, referenced since it was uploaded
			}
			if err := v.bindKEK(tx, b.Tenant, bl); err != nil {
				return err
			}
			if bl.data != nil {
				// Kept with the version record when that is written
				// once (and never copied to l/).
				bl.Here = b.fixedNull()
				if err := v.putInline(tx, b, *bl); err != nil {
					return err
				}
				continue
			}
			if err := v.checkOffer(b, *bl); err != nil {
				return err
			}
			if err := v.refBlob(tx, b, *bl); err != nil {
				return err
			}
		}
		if garbage, err = v.addVersion(tx, b, o); err != nil {
			return err
		}
		if err := tx.flush(); err != nil {
			return err
		}
		// Checked after the version it may replace is released.
		return v.checkQuota(tx, b.Tenant, 0, 0)
	})
	if err != nil {
		return err
	}
	v.collect(ctx, garbage)
	return nil
}

// addVersion writes o as the newest version of its key, following the
// bucket's versioning state, and returns the blobs it made garbage.
func (v *Vault) addVersion(tx meta.Tx, b Bucket, o *Object) ([]string, error) {
	now := v.now().UTC()
	var garbage []string
	if b.Versioning != VersioningOff {
		// Keep the newest-first order even if the clock went backwards.
		if newest, err := newestVersion(tx, b, o.Key); err != nil {
			return nil, err
		} else if newest != nil && !newest.LastModified.Before(now) {
			now = newest.LastModified.Add(time.Microsecond)
		}
	}
	o.LastModified = now.Truncate(time.Microsecond)
	var sk []byte
	if b.Versioning == VersioningEnabled {
		sk = newSortKey(o.LastModified)
		o.VersionID = versionIDOf(sk)
	} else {
		o.VersionID = "null"
		g, err := v.dropNullVersion(tx, b, o.Key)
		if err != nil {
			return nil, err
		}
		garbage = g
		if b.fixedNull() {
			sk = offSortKey
		} else {
			sk = newSortKey(o.LastModified)
			if err := tx.Put(kNull(b.ID, b.tok(o.Key)), sk); err != nil {
				return nil, err
			}
		}
	}
	if err := b.put(tx, kVersion(b.ID, b.tok(o.Key), sk), o); err != nil {
		return nil, err
	}
	if !o.DeleteMarker {
		if err := addUsage(tx, b.Tenant, "", usage{Objects: 1}); err != nil {
			return nil, err
		}
	}
	return garbage, setLatest(tx, b, o.Key, o)
}

// fixedNull reports whether the null version of the bucket's keys is at
// offSortKey, with no n/ or l/ records (see keys.go).
func (b Bucket) fixedNull() bool { return b.FixedNull && b.Versioning == VersioningOff }

// setLatest records newest (nil when the key has no version left) as the
// latest version of key, in the name index and in l/.
func setLatest(tx meta.Tx, b Bucket, key string, newest *Object) error {
	if err := b.indexLatest(tx, key, newest); err != nil {
		return err
	}
	switch {
	case b.fixedNull():
		return nil
	case newest == nil || newest.DeleteMarker:
		return tx.Delete(kLatest(b.ID, b.tok(key)))
	}
	return b.put(tx, kLatest(b.ID, b.tok(key)), newest)
}

// latestObject returns the latest version of key, or nil when the key has
// none or its latest version is a delete marker.
func latestObject(tx meta.Tx, b Bucket, key string) (*Object, error) {
	o := new(Object)
	lk := kLatest(b.ID, b.tok(key))
	if b.fixedNull() {
		lk = kVersion(b.ID, b.tok(key), offSortKey)
	}
	err := b.get(tx, lk, o)
	switch {
	case err == nil:
		return o, nil
	case !errors.Is(err, meta.ErrNotFound):
		return nil, err
	case b.FixedNull && b.Versioning != VersioningOff:
		// A version made before versioning was enabled has no l/.
		if o, err = newestVersion(tx, b, key); o == nil || o.DeleteMarker {
			return nil, err
		}
		return o, nil
	}
	return nil, nil
}

// newestVersion returns the newest version of a key (maybe a delete
// marker), or nil.
func newestVersion(tx meta.Tx, b Bucket, key string) (*Object, error) {
	var o *Object
	pre := kVersionsOf(b.ID, b.tok(key))
	err := tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
		o = new(Object)
		return false, b.open(k, val, o)
	})
	return o, err
}

// dropNullVersion removes the null version of a key, if any, and returns
// its blobs, now garbage. It does not touch l/.
func (v *Vault) dropNullVersion(tx meta.Tx, b Bucket, key string) ([]string, error) {
	if b.fixedNull() {
		// Never versioned: the key's one version, the null one, is in the
		// name index while it exists (there are no delete markers). The
		// index's nodes are in memory, where a record that does not exist
		// costs a look-up in the store, and a new key is the common PUT.
		if _, ok, err := b.idx.Get(tx, key); err != nil || !ok {
			return nil, err
		}
		return v.dropVersion(tx, b, key, offSortKey)
	}
	sk, err := nullSortKey(tx, b, key)
	if err != nil || sk == nil {
		return nil, err
	}
	return v.dropVersion(tx, b, key, sk)
}

// nullSortKey returns the sort key of the null version of key, or nil.
func nullSortKey(tx meta.Tx, b Bucket, key string) ([]byte, error) {
	if !b.fixedNull() {
		sk, err := tx.Get(kNull(b.ID, b.tok(key)))
		switch {
		case err == nil:
			return append([]byte(nil), sk...), nil
		case !errors.Is(err, meta.ErrNotFound):
			return nil, err
		case !b.FixedNull:
			return nil, nil
		}
		// Versioned since: the version from before may still be there.
	}
	switch _, err := tx.Get(kVersion(b.ID, b.tok(key), offSortKey)); {
	case errors.Is(err, meta.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return offSortKey, nil
}

// dropVersion deletes one version record and journals its blobs as garbage.
func (v *Vault) dropVersion(tx meta.Tx, b Bucket, key string, sk []byte) ([]string, error) {
	var old Object
	switch err := b.get(tx, kVersion(b.ID, b.tok(key), sk), &old); {
	case errors.Is(err, meta.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	if old.VersionID == "null" {
		if err := tx.Delete(kNull(b.ID, b.tok(key))); err != nil {
			return nil, err
		}
	}
	garbage, err := v.markGarbage(tx, b, old.Blobs)
	if err != nil {
		return nil, err
	}
	if !old.DeleteMarker {
		if err := addUsage(tx, b.Tenant, "", usage{Objects: -1}); err != nil {
			return nil, err
		}
	}
	return garbage, tx.Delete(kVersion(b.ID, b.tok(key), sk))
}

// findVersion locates a version by id ("" for the latest, which may be a
// delete marker). It returns the record and its sort key, or nil.
func findVersion(tx meta.Tx, b Bucket, key, versionID string) (*Object, []byte, error) {
	var sk []byte
	switch versionID {
	case "":
		if b.Versioning == VersioningOff {
			return findVersion(tx, b, key, "null") // the only version
		}
		var o *Object
		pre := kVersionsOf(b.ID, b.tok(key))
		err := tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
			o = new(Object)
			sk = append([]byte(nil), k[len(pre):]...)
			return false, b.open(k, val, o)
		})
		return o, sk, err
	case "null":
		if b.fixedNull() {
			sk = offSortKey // read once, below
			break
		}
		s, err := nullSortKey(tx, b, key)
		if s == nil || err != nil {
			return nil, nil, err
		}
		sk = s
	default:
		var ok bool
		if sk, ok = sortKeyOf(versionID); !ok {
			return nil, nil, fail("%w: invalid version id specified", ErrInvalidArgument)
		}
		if bytes.Equal(sk, offSortKey) {
			return nil, nil, nil // that version's id is "null"
		}
	}
	o := new(Object)
	switch err := b.get(tx, kVersion(b.ID, b.tok(key), sk), o); {
	case errors.Is(err, meta.ErrNotFound):
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return o, sk, nil
}

// GetObject returns the metadata of an object version (versionID "" for the
// latest). When that is a delete marker it returns the marker together with
// ErrNoSuchKey (latest) or ErrMethodNotAllowed (asked by version id), so
// that the caller can say so in its headers.
func (v *Vault) GetObject(ctx context.Context, p Principal, bucket, key, versionID string) (*Object, error) {
	var o *Object
	err := v.view(ctx, func(tx meta.Tx) error {
		b, err := v.readBucket(ctx, tx, p, bucket)
		if err != nil {
			return err
		}
		if versionID == "" {
			// Fast path: one point read for a live latest version.
			o = &Object{tenant: b.Tenant, bucketID: b.ID}
			lk := kLatest(b.ID, b.tok(key))
			if b.fixedNull() {
				lk = kVersion(b.ID, b.tok(key), offSortKey)
			}
			err := b.get(tx, lk, o)
			if err == nil {
				return v.resolveBlobs(tx, b.Tenant, o)
			} else if !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			if b.Versioning == VersioningOff {
				o = nil
				return fail("%w: %s", ErrNoSuchKey, key)
			}
		}
		defer func() {
			if o != nil {
				o.tenant, o.bucketID = b.Tenant, b.ID
			}
		}()
		o, _, err = findVersion(tx, b, key, versionID)
		switch {
		case err != nil:
			return err
		case o == nil && versionID == "":
			return fail("%w: %s", ErrNoSuchKey, key)
		case o == nil:
			return fail("%w: %s version %s", ErrNoSuchVersion, key, versionID)
		case o.DeleteMarker && versionID == "":
			return fail("%w: %s", ErrNoSuchKey, key)
		case o.DeleteMarker:
			return fail("%w: version %s of %s is a delete marker", ErrMethodNotAllowed, versionID, key)
		}
		return v.resolveBlobs(tx, b.Tenant, o)
	})
	return o, err
}

// Open returns length bytes (to the end when length < 0) of the object from
// offset off, decrypted. The object must come from GetObject. Only the
// chunks the range touches are fetched and decrypted.
func (v *Vault) Open(ctx context.Context, o *Object, off, length int64) (io.ReadCloser, error) {
	if length < 0 || off+length > o.Size {
		length = o.Size - off
	}
	if off < 0 || length < 0 {
		return nil, fmt.Errorf("%w: range %d+%d of a %d-byte object", ErrInvalidArgument, off, length, o.Size)
	}
	r := &blobsReader{ctx: ctx, v: v, o: o, blobs: o.Blobs, off: off, left: length}
	// Open the first piece now so that a missing blob, a destroyed key or
	// an unreachable backend is an error before any header is sent.
	if err := r.next(); err != nil {
		return nil, err
	}
	return r, nil
}

// blobsReader reads a range across the blobs of an object, opening and
// decrypting each blob only when it is reached.
type blobsReader struct {
	ctx   context.Context
	v     *Vault
	o     *Object
	blobs []Blob
	off   int64 // offset into the remaining blobs
	left  int64
	cur   io.Reader // decrypting reader of the current blob
	body  io.Closer // the backend reader under cur
	stop  func()    // stops cur's prefetching goroutine, if any
	// traffic counts the egress of cur's offer.
	traffic *trafficCounter
}

func (r *blobsReader) next() error {
	r.closeCur()
	for len(r.blobs) > 0 && r.off >= r.blobs[0].Size && r.left > 0 {
		r.off -= r.blobs[0].Size
		r.blobs = r.blobs[1:]
	}
	if r.left == 0 || len(r.blobs) == 0 {
		return nil
	}
	b := r.blobs[0]
	n := min(b.Size-r.off, r.left)
	dek, err := r.v.unwrapDEK(r.ctx, r.o.tenant, b, r.o.customerKey, r.o.keks)
	if err != nil {
		return err
	}
	defer clear(dek)
	if err := crypt.CheckHeader(b.Header, dek); err != nil {
		return fmt.Errorf("%w: blob %s: %v", ErrIntegrity, b.Name, err)
	}
	coff, clen := crypt.CipherRange(r.off, n, b.Size)
	i := len(r.o.Blobs) - len(r.blobs)
	offer := ""
	if i < len(r.o.offers) {
		offer = r.o.offers[i]
	}
	r.traffic = r.v.counter(r.o.tenant, offer)
	var rc io.ReadCloser
	if b.Inline {
		data := r.o.inline[i]
		if coff+clen > int64(len(data)) {
			return fmt.Errorf("%w: blob %s holds %d bytes, not %d", ErrIntegrity, b.Name, len(data), crypt.CiphertextSize(b.Size))
		}
		rc = io.NopCloser(bytes.NewReader(data[coff : coff+clen]))
	} else {
		store, err := r.v.offerStore(offer)
		if err != nil {
			return err
		}
		if rc, err = store.Get(r.ctx, b.Name, coff, clen); err != nil {
			if errors.Is(err, backend.ErrNotFound) {
				return fmt.Errorf("%w: blob %s is missing", ErrNoSuchKey, b.Name)
			}
			return fmt.Errorf("%w: %v", ErrBackendUnavailable, err)
		}
	}
	dr, err := newPayloadReader(rc, dek, payloadAD(r.o.tenant, r.o.bucketID, r.o.Key, b.Name), b.Header, r.off, n, b.Size)
	if err != nil {
		rc.Close()
		return fmt.Errorf("%w: blob %s: %v", ErrIntegrity, b.Name, err)
	}
	r.cur, r.body = dr, rc
	if n >= prefetchMin {
		pr := newPrefetchReader(dr)
		r.cur, r.stop = pr, pr.stop
	}
	r.off = 0
	r.blobs = r.blobs[1:]
	return nil
}

func (r *blobsReader) closeCur() {
	if r.stop != nil {
		r.stop()
	}
	if r.body != nil {
		r.body.Close()
	}
	r.cur, r.body, r.stop = nil, nil, nil
}

func (r *blobsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			return 0, io.EOF
		}
		if int64(len(p)) > r.left {
			p = p[:r.left]
		}
		n, err := r.cur.Read(p)
		r.left -= int64(n)
		r.traffic.egress.Add(int64(n))
		switch {
		case err == io.EOF || err == nil && r.left == 0:
			if n > 0 {
				return n, nil
			}
			if err := r.next(); err != nil {
				return 0, err
			}
		case errors.Is(err, crypt.ErrIntegrity):
			return n, fmt.Errorf("%w: %v", ErrIntegrity, err)
		case err == nil || r.ctx.Err() != nil:
			return n, err
		default:
			// The backend's failure, never the reader's: a copy must not
			// report it as the client's short body.
			return n, fmt.Errorf("%w: reading blob: %v", ErrBackendUnavailable, err)
		}
	}
}

func (r *blobsReader) Close() error {
	r.closeCur()
	return nil
}

// DeleteResult says what a DeleteObject did.
type DeleteResult struct {
	VersionID    string // the version removed, or the delete marker made
	DeleteMarker bool   // a delete marker was made, or the version removed was one
}

// DeleteObject deletes the latest version (versionID "") following the
// bucket's versioning state, or one version permanently. Deleting what does
// not exist is not an error.
func (v *Vault) DeleteObject(ctx context.Context, p Principal, bucket, key, versionID string) (DeleteResult, error) {
	if err := ValidKey(key); err != nil {
		return DeleteResult{}, err
	}
	var res DeleteResult
	var garbage []string
	err := v.update(ctx, func(tx meta.Tx) error {
		res, garbage = DeleteResult{}, garbage[:0]
		b, err := v.bucketFor(ctx, tx, p, bucket)
		if err != nil {
			return err
		}
		if versionID == "" {
			if b.Versioning == VersioningOff {
				g, err := v.dropNullVersion(tx, b, key)
				if err != nil {
					return err
				}
				garbage = g
				return setLatest(tx, b, key, nil)
			}
			marker := &Object{Key: key, DeleteMarker: true}
			garbage, err = v.addVersion(tx, b, marker)
			res = DeleteResult{VersionID: marker.VersionID, DeleteMarker: true}
			return err
		}
		o, sk, err := findVersion(tx, b, key, versionID)
		if err != nil || o == nil {
			return err
		}
		res = DeleteResult{VersionID: o.VersionID, DeleteMarker: o.DeleteMarker}
		if garbage, err = v.dropVersion(tx, b, key, sk); err != nil {
			return err
		}
		return refreshLatest(tx, b, key)
	})
	if err != nil {
		return DeleteResult{}, err
	}
	v.collect(ctx, garbage)
	return res, nil
}

// refreshLatest sets l/ from the newest remaining version of a key.
func refreshLatest(tx meta.Tx, b Bucket, key string) error {
	o, err := newestVersion(tx, b, key)
	if err != nil {
		return err
	}
	return setLatest(tx, b, key, o)
}

// ObjectTags returns the tags of an object version.
func (v *Vault) ObjectTags(ctx context.Context, p Principal, bucket, key, versionID string) (*Object, error) {
	return v.GetObject(ctx, p, bucket, key, versionID)
}

// SetObjectTags replaces the tag set of an object version (nil deletes it)
// and returns the version id it applied to.
func (v *Vault) SetObjectTags(ctx context.Context, p Principal, bucket, key, versionID string, tags map[string]string) (string, error) {
	if err := ValidTags(tags, 10); err != nil {
		return "", err
	}
	var vid string
	err := v.update(ctx, func(tx meta.Tx) error {
		b, err := v.bucketFor(ctx, tx, p, bucket)
		if err != nil {
			return err
		}
		o, sk, err := findVersion(tx, b, key, versionID)
		switch {
		case err != nil:
			return err
		case o == nil && versionID == "":
			return fail("%w: %s", ErrNoSuchKey, key)
		case o == nil:
			return fail("%w: %s version %s", ErrNoSuchVersion, key, versionID)
		case o.DeleteMarker:
			return fail("%w: %s is a delete marker", ErrMethodNotAllowed, key)
		}
		o.Tags = tags
		vid = o.VersionID
		if err := b.put(tx, kVersion(b.ID, b.tok(key), sk), o); err != nil {
			return err
		}
		return refreshLatest(tx, b, key)
	})
	return vid, err
}
