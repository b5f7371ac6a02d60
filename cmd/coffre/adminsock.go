package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/coffre-cloud/coffre/vault"
)

// The admin socket lets the admin commands act through the serving process
// on what only it holds: the key store (an HSM session, or the keyring's
// lock) and the cache of tenant keys, which a shredding must empty at once.
// It is a Unix socket in the site directory, mode 0600: whoever can use it
// can already read the data directory.

const adminSocketName = "admin.sock"

// keyOp is one key administration request.
type keyOp struct {
	Op     string `json:"op"` // rotate, rewrap, rotate-root, shred, list, key-create
	Tenant string `json:"tenant,omitempty"`
	Retire bool   `json:"retire,omitempty"`
}

// keyOpResult is its answer.
type keyOpResult struct {
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// runKeyOp performs op on a vault.
func runKeyOp(ctx context.Context, v *vault.Vault, op keyOp) (string, error) {
	switch op.Op {
	case "rotate":
		ver, err := v.RotateTenantKey(ctx, op.Tenant)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("tenant %s: key version %d is now current; older objects keep their key version until `coffre keys rewrap --tenant %s`", op.Tenant, ver, op.Tenant), nil
	case "rewrap":
		st, err := v.RewrapTenant(ctx, op.Tenant, nil)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("tenant %s: %d data keys rewrapped; key versions destroyed: %v", op.Tenant, st.Blobs, st.Retired), nil
	case "rotate-root":
		ver, n, err := v.RotateRootKey(ctx, op.Retire)
		if err != nil {
			return "", err
		}
		retired := "kept (pass --retire-old to destroy it)"
		if op.Retire {
			retired = "destroyed"
		}
		return fmt.Sprintf("root key version %d is now current; %d tenant keys rewrapped; the previous root key was %s", ver, n, retired), nil
	case "shred":
		n, err := v.ShredTenant(ctx, op.Tenant)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("tenant %s: %d key versions destroyed; its data can never be read again", op.Tenant, n), nil
	case "key-create":
		k, err := v.CreateAccessKey(ctx, op.Tenant)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("access key for tenant %s (the secret is shown only now):\n  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s", k.Tenant, k.ID, k.Secret), nil
	case "list":
		ks, err := v.TenantKeys(ctx, op.Tenant)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("tenant %s: current key version %d, versions %v, shredded %v", ks.Tenant, ks.Current, ks.Versions, ks.Shredded), nil
	}
	return "", fmt.Errorf("unknown key operation %q", op.Op)
}

// serveAdmin serves the admin socket until ctx ends; ida is nil when the
// identity provider is off.
func serveAdmin(ctx context.Context, siteDir string, v *vault.Vault, ida *identityAdmin) error {
	path := filepath.Join(siteDir, adminSocketName)
	os.Remove(path) // a socket left by a killed process
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		var op keyOp
		var res keyOpResult
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&op); err != nil {
			res.Error = "malformed request: " + err.Error()
		} else if msg, err := runKeyOp(r.Context(), v, op); err != nil {
			res.Error = err.Error()
		} else {
			res.Message = msg
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	})
	mux.HandleFunc("POST /v1/identity", func(w http.ResponseWriter, r *http.Request) {
		var op identityOp
		var res keyOpResult
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256<<20)).Decode(&op); err != nil {
			res.Error = "malformed request: " + err.Error()
		} else if msg, err := ida.run(r.Context(), op); err != nil {
			res.Error = err.Error()
		} else {
			res.Message = msg
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// errNoServer: no serving process answers on the admin socket.
var errNoServer = errors.New("no server answers on the admin socket")

// callAdmin sends a key operation to the serving process of the site.
func callAdmin(ctx context.Context, siteDir string, op keyOp) (string, error) {
	return callAdminPath(ctx, siteDir, "/v1/keys", op)
}

// callAdminPath sends op as JSON to a path of the admin socket.
func callAdminPath(ctx context.Context, siteDir, urlPath string, op any) (string, error) {
	path := filepath.Join(siteDir, adminSocketName)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	body, _ := json.Marshal(op)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://coffre"+urlPath, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNoServer, err)
	}
	defer resp.Body.Close()
	var res keyOpResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return "", fmt.Errorf("admin socket answer: %w", err)
	}
	if res.Error != "" {
		return "", errors.New(res.Error)
	}
	return res.Message, nil
}
