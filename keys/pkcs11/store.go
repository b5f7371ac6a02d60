//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/coffre-cloud/coffre/keys"
)

var errUnavailable = keys.ErrUnavailable

// Store keeps a site's keys in a PKCS#11 token: keys.Store for an HSM.
//
// Lock order: connMu, then module.mu, then mu.
type Store struct {
	cfg Config
	pin keys.Secret
	mod *module
	sem chan struct{} // one token per call in flight, so per open session

	connMu sync.Mutex // one connect at a time

	mu      sync.Mutex
	closed  bool
	conn    uint64 // id of the connection the fields below belong to; 0: not connected
	conns   uint64 // connections made so far
	gen     uint64 // module generation of the connection
	slot    uint
	idle    []p11.SessionHandle
	roots   map[int]p11.ObjectHandle
	listed  time.Time                   // when roots was read from the token
	objs    map[string]p11.ObjectHandle // signing and MAC keys found so far
	lastErr error                       // why the last connect failed
	retryAt time.Time                   // no connect before then
	fatal   error                       // a wrong PIN: never retried
}

var _ keys.Store = (*Store)(nil)

// Open connects to the token that holds a site's keys. The token must hold
// at least one root key (made by Create). An unreachable token is
// ErrUnavailable, a wrong PIN ErrSealed.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if s.rootCount() == 0 {
		s.Close()
		return nil, fmt.Errorf("pkcs11: token %q holds no root key labelled %s-root-v*; make the first one with Create: %w",
			cfg.TokenLabel, s.cfg.KeyPrefix, keys.ErrNoSuchKey)
	}
	return s, nil
}

// Create connects to a token that holds no root key yet and makes root key
// version 1 in it. A token that already holds root keys is keys.ErrExist:
// Open it instead.
func Create(ctx context.Context, cfg Config) (*Store, error) {
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if s.rootCount() != 0 {
		s.Close()
		return nil, fmt.Errorf("pkcs11: token %q already holds root keys labelled %s-root-v*; open it instead: %w",
			cfg.TokenLabel, s.cfg.KeyPrefix, keys.ErrExist)
	}
	if _, err := s.Rotate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	mod, err := loadModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, pin: keys.Secret(append([]byte(nil), cfg.PIN...)), mod: mod, sem: make(chan struct{}, cfg.MaxSessions)}
	s.cfg.PIN = nil
	if err := s.connect(); err != nil {
		s.Close()
		return nil, fmt.Errorf("pkcs11: open: %w", err)
	}
	return s, nil
}

func (s *Store) rootCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.roots)
}

// Close closes the sessions, zeroes the PIN, and finalises the module if
// no other store of the process uses it. It waits for calls in flight.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	for range cap(s.sem) { // wait for the calls in flight
		s.sem <- struct{}{}
	}
	s.mod.mu.RLock()
	s.mu.Lock()
	idle, gen := s.idle, s.gen
	s.idle, s.conn, s.roots, s.objs = nil, 0, nil, nil
	s.mu.Unlock()
	if gen == s.mod.gen {
		for _, sh := range idle {
			s.mod.ctx.CloseSession(sh)
		}
	}
	s.mod.mu.RUnlock()
	s.pin.Zero()
	s.mod.release()
	for range cap(s.sem) {
		<-s.sem
	}
	return nil
}

// LogValue implements slog.LogValuer.
func (s *Store) LogValue() slog.Value { return s.cfg.LogValue() }

// call is one operation's hold on a session. module.mu is held for reading
// from begin to end, so the library cannot restart under the call.
type call struct {
	p    *p11.Ctx
	sh   p11.SessionHandle
	slot uint
	gen  uint64 // module generation
	conn uint64 // the store's connection id
}

// lostError marks a failure that means the session or the token is gone,
// not that the request was bad.
type lostError struct{ err error }

func (e lostError) Error() string { return e.err.Error() }
func (e lostError) Unwrap() error { return e.err }

// lostCodes are the return values that mean "the session, the login, the
// key handle or the device is gone": reconnecting may help, and the call
// fails with ErrUnavailable if it does not. CKR_GENERAL_ERROR is here
// because SoftHSM2 answers it for a token whose files vanished; C_Decrypt's
// failures are judged apart (see Unwrap).
var lostCodes = map[uint]bool{
	p11.CKR_SESSION_HANDLE_INVALID:   true,
	p11.CKR_SESSION_CLOSED:           true,
	p11.CKR_DEVICE_ERROR:             true,
	p11.CKR_DEVICE_MEMORY:            true,
	p11.CKR_DEVICE_REMOVED:           true,
	p11.CKR_TOKEN_NOT_PRESENT:        true,
	p11.CKR_TOKEN_NOT_RECOGNIZED:     true,
	p11.CKR_SLOT_ID_INVALID:          true,
	p11.CKR_CRYPTOKI_NOT_INITIALIZED: true,
	p11.CKR_USER_NOT_LOGGED_IN:       true,
	p11.CKR_OBJECT_HANDLE_INVALID:    true,
	p11.CKR_KEY_HANDLE_INVALID:       true,
	p11.CKR_GENERAL_ERROR:            true,
	p11.CKR_SESSION_COUNT:            true,
}

func isLost(err error) bool {
	var l lostError
	if errors.As(err, &l) {
		return true
	}
	var e p11.Error
	return errors.As(err, &e) && lostCodes[uint(e)]
}

// do runs fn on a session. A failure that means the session or token was
// lost drops the session and, for an idempotent fn, retries once on a new
// connection; if that fails too, or fn is not idempotent (it may have
// happened), the result is ErrUnavailable.
func (s *Store) do(ctx context.Context, op string, idempotent bool, fn func(*call) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pkcs11: %s: %w", op, err)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("pkcs11: %s: %w", op, ctx.Err())
	}
	defer func() { <-s.sem }()
	for attempt := 0; ; attempt++ {
		c, err := s.begin()
		if err != nil {
			return fmt.Errorf("pkcs11: %s: %w", op, err)
		}
		err = fn(c)
		lost := isLost(err)
		s.end(c, lost)
		if !lost {
			if err != nil {
				return fmt.Errorf("pkcs11: %s: %w", op, err)
			}
			return nil
		}
		s.disconnect(c.conn, err)
		if !idempotent || attempt > 0 {
			return fmt.Errorf("pkcs11: %s: token %q: %v: %w", op, s.cfg.TokenLabel, err, errUnavailable)
		}
	}
}

const sessionFlags = p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION

// begin returns a session of the current connection, connecting first if
// there is none. On success module.mu is held for reading until end.
func (s *Store) begin() (*call, error) {
	for range 3 {
		s.mod.mu.RLock()
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			s.mod.mu.RUnlock()
			return nil, keys.ErrClosed
		}
		if s.conn != 0 && s.gen == s.mod.gen {
			c := &call{p: s.mod.ctx, slot: s.slot, gen: s.gen, conn: s.conn}
			if n := len(s.idle); n > 0 {
				c.sh = s.idle[n-1]
				s.idle = s.idle[:n-1]
				s.mu.Unlock()
				return c, nil
			}
			s.mu.Unlock()
			sh, err := c.p.OpenSession(c.slot, sessionFlags)
			if err == nil {
				c.sh = sh
				return c, nil
			}
			s.mod.mu.RUnlock()
			s.disconnect(c.conn, err)
		} else {
			s.mu.Unlock()
			s.mod.mu.RUnlock()
		}
		if err := s.connect(); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("token %q: the module keeps restarting: %w", s.cfg.TokenLabel, errUnavailable)
}

// end gives the session back (or closes it when lost or stale) and
// releases module.mu.
func (s *Store) end(c *call, lost bool) {
	s.mu.Lock()
	keep := !lost && !s.closed && s.conn == c.conn
	if keep {
		s.idle = append(s.idle, c.sh)
	}
	s.mu.Unlock()
	if !keep {
		c.p.CloseSession(c.sh)
	}
	s.mod.mu.RUnlock()
}

// disconnect forgets connection conn after cause, closing its idle
// sessions. The next call reconnects at once.
func (s *Store) disconnect(conn uint64, cause error) {
	s.mod.mu.RLock()
	defer s.mod.mu.RUnlock()
	s.mu.Lock()
	if s.conn != conn || conn == 0 {
		s.mu.Unlock()
		return
	}
	idle, gen := s.idle, s.gen
	s.conn, s.idle, s.roots, s.objs, s.lastErr = 0, nil, nil, nil, cause
	s.mu.Unlock()
	if s.mod.gen == gen {
		for _, sh := range idle {
			s.mod.ctx.CloseSession(sh)
		}
	}
}

// connect makes sure the store has a connection of the module's current
// generation. Attempts after a failure are at least RetryInterval apart;
// in between it fails at once.
func (s *Store) connect() error {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	modGen := s.mod.generation()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return keys.ErrClosed
	case s.fatal != nil:
		err := s.fatal
		s.mu.Unlock()
		return err
	case s.conn != 0 && s.gen == modGen:
		s.mu.Unlock()
		return nil // another call connected meanwhile
	case time.Now().Before(s.retryAt):
		err := s.lastErr
		s.mu.Unlock()
		return fmt.Errorf("token %q: %v (next attempt within %v): %w", s.cfg.TokenLabel, err, s.cfg.RetryInterval, errUnavailable)
	}
	s.mu.Unlock()
	err := s.dial()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if errors.Is(err, keys.ErrSealed) {
			s.fatal = err
			return err
		}
		s.lastErr, s.retryAt = err, time.Now().Add(s.cfg.RetryInterval)
		return fmt.Errorf("token %q: %v: %w", s.cfg.TokenLabel, err, errUnavailable)
	}
	s.retryAt = time.Time{}
	return nil
}

// dial finds the token by label, opens a session, logs in and lists the
// root keys. A token that is not found makes it initialise the module
// again, once: modules enumerate tokens only in C_Initialize.
func (s *Store) dial() error {
	for attempt := 0; ; attempt++ {
		s.mod.mu.RLock()
		gen := s.mod.gen
		slot, labels, found := s.findToken()
		if !found {
			s.mod.mu.RUnlock()
			if attempt == 0 {
				if err := s.mod.reinit(gen); err != nil {
					return err
				}
				continue
			}
			present := strings.Join(labels, ", ")
			if present == "" {
				present = "none"
			}
			return fmt.Errorf("no token labelled %q in module %s (tokens present: %s)", s.cfg.TokenLabel, s.cfg.Module, present)
		}
		err := s.login(gen, slot)
		s.mod.mu.RUnlock()
		return err
	}
}

// findToken returns the slot of the token labelled cfg.TokenLabel, and the
// labels seen; module.mu is held.
func (s *Store) findToken() (slot uint, labels []string, found bool) {
	slots, err := s.mod.ctx.GetSlotList(true)
	if err != nil {
		return 0, []string{"(" + err.Error() + ")"}, false
	}
	for _, id := range slots {
		ti, err := s.mod.ctx.GetTokenInfo(id)
		if err != nil || ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue // a free slot, or a token that vanished
		}
		if ti.Label == s.cfg.TokenLabel {
			return id, nil, true
		}
		labels = append(labels, strconv.Quote(ti.Label))
	}
	return 0, labels, false
}

// login opens the first session on slot, logs in and lists the root keys,
// then installs them as the connection of generation gen; module.mu is held.
func (s *Store) login(gen uint64, slot uint) error {
	p := s.mod.ctx
	sh, err := p.OpenSession(slot, sessionFlags)
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	s.mu.Lock()
	pin := string(s.pin) // a copy Go cannot zero; the module gets its own C copy anyway
	s.mu.Unlock()
	if err := p.Login(sh, p11.CKU_USER, pin); err != nil && !isCode(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
		p.CloseSession(sh)
		if isCode(err, p11.CKR_PIN_INCORRECT) || isCode(err, p11.CKR_PIN_LOCKED) || isCode(err, p11.CKR_PIN_EXPIRED) || isCode(err, p11.CKR_PIN_LEN_RANGE) {
			// Never retried: each wrong attempt brings the token closer to
			// locking the PIN.
			return fmt.Errorf("token %q refused the PIN (%v); fix %s or %s and restart: %w", s.cfg.TokenLabel, err, EnvPINFile, EnvPIN, keys.ErrSealed)
		}
		return fmt.Errorf("login: %w", err)
	}
	roots, err := s.listRoots(&call{p: p, sh: sh, slot: slot, gen: gen})
	if err != nil {
		p.CloseSession(sh)
		return err
	}
	s.mu.Lock()
	s.conns++
	s.conn, s.gen, s.slot, s.idle = s.conns, gen, slot, []p11.SessionHandle{sh}
	s.roots, s.listed, s.objs = roots, time.Now(), map[string]p11.ObjectHandle{}
	s.mu.Unlock()
	return nil
}

func (s *Store) rootLabel(v int) string { return s.cfg.KeyPrefix + "-root-v" + strconv.Itoa(v) }

// listRoots finds the root keys on the token by label.
func (s *Store) listRoots(c *call) (map[int]p11.ObjectHandle, error) {
	hs, err := findObjects(c, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
	})
	if err != nil {
		return nil, err
	}
	prefix := s.cfg.KeyPrefix + "-root-v"
	roots := map[int]p11.ObjectHandle{}
	for _, h := range hs {
		attrs, err := c.p.GetAttributeValue(c.sh, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, nil)})
		if err != nil {
			return nil, err
		}
		label := string(attrs[0].Value)
		n, ok := strings.CutPrefix(label, prefix)
		if !ok {
			continue
		}
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || strconv.Itoa(v) != n {
			continue
		}
		if _, dup := roots[v]; dup {
			// Fail closed: which one wraps and which one unwraps would
			// depend on the order the token lists them in.
			return nil, fmt.Errorf("two root keys labelled %q on token %q; destroy the one made last", label, s.cfg.TokenLabel)
		}
		roots[v] = h
	}
	return roots, nil
}

// setRoots installs a fresh listing of the root keys, if the connection it
// was made on is still the store's.
func (s *Store) setRoots(conn uint64, roots map[int]p11.ObjectHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == conn {
		s.roots, s.listed = roots, time.Now()
	}
}

// stale reports whether the list of root keys is older than cfg.Refresh.
func (s *Store) stale() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.listed) > s.cfg.Refresh
}

// root returns the handle of root key version v (or the current one for
// v == 0) and its version.
func (s *Store) root(v int) (int, p11.ObjectHandle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == 0 {
		v = currentOf(s.roots)
	}
	h, ok := s.roots[v]
	return v, h, ok
}

func currentOf(roots map[int]p11.ObjectHandle) int {
	v := 0
	for k := range roots {
		v = max(v, k)
	}
	return v
}

// findObjects returns the handles of the objects matching template.
func findObjects(c *call, template []*p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := c.p.FindObjectsInit(c.sh, template); err != nil {
		return nil, err
	}
	var all []p11.ObjectHandle
	for {
		hs, _, err := c.p.FindObjects(c.sh, 64)
		if err != nil {
			c.p.FindObjectsFinal(c.sh)
			return nil, err
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	if err := c.p.FindObjectsFinal(c.sh); err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return all, nil
}

// object returns the handle of the one object of class labelled label, from
// the cache of the connection or else the token; none is ErrNoSuchKey.
func (s *Store) object(c *call, class uint, label string) (p11.ObjectHandle, error) {
	key := strconv.FormatUint(uint64(class), 10) + "/" + label
	s.mu.Lock()
	h, ok := s.objs[key]
	s.mu.Unlock()
	if ok {
		return h, nil
	}
	hs, err := findObjects(c, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, class),
		p11.NewAttribute(p11.CKA_LABEL, label),
	})
	switch {
	case err != nil:
		return 0, err
	case len(hs) == 0:
		return 0, fmt.Errorf("no key labelled %q on token %q: %w", label, s.cfg.TokenLabel, keys.ErrNoSuchKey)
	case len(hs) > 1:
		return 0, fmt.Errorf("%d keys labelled %q on token %q; destroy all but one", len(hs), label, s.cfg.TokenLabel)
	}
	s.mu.Lock()
	if s.conn == c.conn && s.objs != nil {
		s.objs[key] = hs[0]
	}
	s.mu.Unlock()
	return hs[0], nil
}

// healthy reports whether the call's session and token still answer.
func (c *call) healthy() bool {
	if _, err := c.p.GetSessionInfo(c.sh); err != nil {
		return false
	}
	_, err := c.p.GetTokenInfo(c.slot)
	return err == nil
}

// heldSecrets returns the secret material the store holds in memory: the
// PIN (the keys themselves never leave the token).
func (s *Store) heldSecrets() [][]byte { return [][]byte{s.pin} }
