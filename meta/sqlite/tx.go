package sqlite

import (
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

// Get implements meta.Tx.
func (t *tx) Get(key []byte) ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	rows, err := t.c.get.QueryContext(background, nonNil(key))
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

// Put implements meta.Tx.
func (t *tx) Put(key, value []byte) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if _, err := t.c.put.ExecContext(background, nonNil(key), nonNil(value)); err != nil {
		return fmt.Errorf("sqlite: put: %w", err)
	}
	return nil
}

// Delete implements meta.Tx.
func (t *tx) Delete(key []byte) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if _, err := t.c.del.ExecContext(background, nonNil(key)); err != nil {
		return fmt.Errorf("sqlite: delete: %w", err)
	}
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
	var rows *sql.Rows
	if end == nil {
		rows, err = st.QueryContext(background, nonNil(start))
	} else {
		rows, err = st.QueryContext(background, nonNil(start), end)
	}
	if err != nil {
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
	var k, v sql.RawBytes // see Get
	for n := 1; rows.Next(); n++ {
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("sqlite: scan: %w", err)
		}
		more, err := fn(nonNil(k), nonNil(v))
		if err != nil || !more {
			return err // fn's own error, unwrapped
		}
		if n%ctxCheckRows == 0 {
			if err := t.ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: scan: %w", err)
	}
	return nil
}
