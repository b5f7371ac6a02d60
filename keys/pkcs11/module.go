//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// A PKCS#11 module is process-global: C_Initialize and C_Finalize act on
// the whole library, for every store that uses it. module shares one
// initialised library between the stores of a process and is the only
// place that initialises it again.
type module struct {
	path string
	ctx  *p11.Ctx

	// mu is held for reading around every call into the library, and for
	// writing to finalise and initialise it, so that no call runs while the
	// library restarts under it.
	mu  sync.RWMutex
	gen uint64 // bumped at each initialisation; sessions and handles of an older gen are dead

	refs int // stores using it; guarded by modules.mu
}

var modules struct {
	mu sync.Mutex
	m  map[string]*module
}

// loadModule returns the initialised module at path, loading it on first
// use. Each loadModule is paired with a release.
func loadModule(path string) (*module, error) {
	modules.mu.Lock()
	defer modules.mu.Unlock()
	m := modules.m[path]
	if m == nil {
		// The library stays loaded for the life of the process: unloading
		// and reloading a module (and the crypto library under it) is a
		// known source of crashes, and saves nothing.
		ctx := p11.New(path)
		if ctx == nil {
			return nil, fmt.Errorf("pkcs11: cannot load module %s (is it installed? for SoftHSM2: apt-get install softhsm2)", path)
		}
		m = &module{path: path, ctx: ctx}
		if modules.m == nil {
			modules.m = map[string]*module{}
		}
		modules.m[path] = m
	}
	if m.refs == 0 {
		m.mu.Lock()
		err := m.ctx.Initialize()
		if err != nil && !isCode(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			m.mu.Unlock()
			return nil, fmt.Errorf("pkcs11: initialise module %s: %w: %w", path, err, errUnavailable)
		}
		m.gen++
		m.mu.Unlock()
	}
	m.refs++
	return m, nil
}

// release undoes a loadModule; the last one finalises the library.
func (m *module) release() {
	modules.mu.Lock()
	defer modules.mu.Unlock()
	m.refs--
	if m.refs == 0 {
		m.mu.Lock()
		m.ctx.Finalize()
		m.gen++
		m.mu.Unlock()
	}
}

// generation returns the current generation.
func (m *module) generation() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.gen
}

// reinit finalises and initialises the library again, unless that happened
// since generation seen was observed (another store did it). It is how a
// token that vanished, or that was made by another process after the
// library was initialised, becomes visible: PKCS#11 modules such as
// SoftHSM2 enumerate tokens only in C_Initialize. Every session of every
// store using the module dies; they reconnect on their next call.
func (m *module) reinit(seen uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != seen {
		return nil
	}
	m.ctx.Finalize() // fails if already finalised: nothing to undo then
	m.gen++
	if err := m.ctx.Initialize(); err != nil && !isCode(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return fmt.Errorf("pkcs11: initialise module %s again: %w", m.path, err)
	}
	return nil
}

func isCode(err error, code uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == code
}
