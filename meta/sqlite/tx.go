package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffre-cloud/coffre/meta"
)

var (
	errReadOnly    = errors.New("sqlite: Put or Delete in a View (write in Update)")
	errWriteInScan = errors.New("sqlite: Put or Delete from inside a Scan callback (collect the keys, then write after Scan returns)")
	errTxDone      = errors.New("sqlite: transaction used after its function returned")
)

// tx is a meta.Tx on one connection. View and Update make a new one per
// call, so that a Tx kept past its function fails instead of acting inside
// someone else's transaction.
type tx struct {
	ctx      context.Context
	c        *conn
	writable bool
	scans    int  // Scans running; a Scan's fn may Get and Scan, not write
	done     bool // set when fn has returned

	// In an Update: own holds fn's writes, batch those of the calls
	// before it in the batch (see overlay); SQLite has neither yet.
	own, batch *overlay
	cache      *readCache // under both: what SQLite holds
	// sqlErr records the first error SQLite returned to a read of an
	// Update: SQLite may have rolled the whole transaction back (on some
	// I/O and memory errors it does), so the batch must not commit.
	sqlErr *error
}

// ctxCheckRows is how many rows Scan reads between checks of the context.
const ctxCheckRows = 256

func (t *tx) check() error {
	if t.done {
		return errTxDone
	}
	return t.ctx.Err()
}

func (t *tx) checkWrite() error {
	if err := t.check(); err != nil {
		return err
	}
	if !t.writable {
		return errReadOnly
	}
	if t.scans > 0 {
		return errWriteInScan
	}
	return nil
}

// nonNil turns nil into an empty slice: the driver binds a nil []byte as
// NULL, which matches no key and violates the NOT NULL on values.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// known answers a read in an Update from its overlays or the committer's
// read cache, if they know key. The value is a copy: the caller may do what
// it likes with it.
func (t *tx) known(key []byte) (w write, ok bool) {
	if !t.writable {
		return write{}, false
	}
	if w, ok = t.own.get(key); !ok {
		if w, ok = t.batch.get(key); !ok {
			return t.cache.get(key)
		}
	}
	if !w.del {
		w.v = bytes.Clone(w.v)
	}
	return w, true
}

// sqlFailed records err, returned by SQLite to a read in an Update.
func (t *tx) sqlFailed(err error) {
	if t.sqlErr != nil && *t.sqlErr == nil {
		*t.sqlErr = err
	}
}

// Get implements meta.Tx.
func (t *tx) Get(key []byte) (v []byte, err error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if w, ok := t.known(key); ok {
		if w.del {
			return nil, meta.ErrNotFound
		}
		return w.v, nil
	}
	v, err = t.c.getRow(key)
	switch {
	case err == nil || err == meta.ErrNotFound:
		if t.writable {
			t.cache.add(key, v, err == nil)
		}
	default:
		t.sqlFailed(err)
	}
	return v, err
}

func (c *conn) getRow(key []byte) ([]byte, error) {
	rows, err := c.get.QueryContext(background, nonNil(key))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get: %w", err)
	}
	var v sql.RawBytes
	found := rows.Next()
	if found {
		// RawBytes avoids database/sql's second copy: the driver already
		// copied the column into memory of its own that it never reuses,
		// so the slice outlives the row (metatest checks that it stays
		// intact until the transaction ends).
		err = rows.Scan(&v)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get: %w", err)
	}
	if !found {
		return nil, meta.ErrNotFound
	}
	if v == nil { // SQLite hands out an empty BLOB as a NULL pointer
		return []byte{}, nil
	}
	return v, nil
}

// Put implements meta.Tx. The write goes to the Update's overlay; the
// committer writes it to SQLite if fn succeeds.
func (t *tx) Put(key, value []byte) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	t.own.put(key, value)
	return nil
}

// Delete implements meta.Tx, through the overlay as Put.
func (t *tx) Delete(key []byte) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	t.own.del(key)
	return nil
}

// Scan implements meta.Tx. It streams: one row is in memory at a time, and
// the cursor stops as soon as fn says so. fn may call Get and Scan; Put and
// Delete return an error until Scan returns.
func (t *tx) Scan(start, end []byte, fn func(key, value []byte) (more bool, err error)) (err error) {
	if err := t.check(); err != nil {
		return err
	}
	st, err := t.c.scanStmt(t.scans, end == nil)
	if err != nil {
		return fmt.Errorf("sqlite: scan: %w", err)
	}
	var (
		wkeys []string // the Update's writes in the range, in order
		ws    []write
	)
	if t.writable {
		wkeys, ws = rangeWrites(t.own, t.batch, start, end)
	}
	var rows *sql.Rows
	if end == nil {
		rows, err = st.QueryContext(background, nonNil(start))
	} else {
		rows, err = st.QueryContext(background, nonNil(start), end)
	}
	if err != nil {
		t.sqlFailed(err)
		return fmt.Errorf("sqlite: scan: %w", err)
	}
	t.scans++
	defer func() {
		t.scans--
		// Runs on every exit, a panic in fn included, so the statement is
		// reset and free for the next Scan at this depth.
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("sqlite: scan: %w", cerr)
		}
	}()
	n := 0
	// emit passes one pair to fn, checking the context every few.
	emit := func(k, v []byte) (bool, error) {
		more, err := fn(k, v)
		if err != nil || !more {
			return false, err // fn's own error, unwrapped
		}
		if n++; n%ctxCheckRows == 0 {
			if err := t.ctx.Err(); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	// emitWrites passes the Update's writes before the row key (all of
	// them when row is nil), and reports whether the next one replaces the
	// row.
	emitWrites := func(row []byte) (more, replaced bool, err error) {
		for len(wkeys) > 0 {
			c := -1
			if row != nil {
				c = cmpKey(wkeys[0], row)
			}
			if c > 0 {
				return true, false, nil
			}
			k, w := wkeys[0], ws[0]
			wkeys, ws = wkeys[1:], ws[1:]
			if !w.del {
				if more, err := emit([]byte(k), bytes.Clone(w.v)); !more {
					return false, false, err
				}
			}
			if c == 0 {
				return true, true, nil
			}
		}
		return true, false, nil
	}
	var k, v sql.RawBytes // see Get
	for rows.Next() {
		if err := rows.Scan(&k, &v); err != nil {
			t.sqlFailed(err)
			return fmt.Errorf("sqlite: scan: %w", err)
		}
		k = nonNil(k)
		more, replaced, err := emitWrites(k)
		if !more {
			return err
		}
		if replaced {
			continue
		}
		if more, err := emit(k, nonNil(v)); !more {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		t.sqlFailed(err)
		return fmt.Errorf("sqlite: scan: %w", err)
	}
	_, _, err = emitWrites(nil)
	return err
}
