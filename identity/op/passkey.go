package op

import "net/http"

// Passkeys (WebAuthn, go-webauthn): being written; until then these steps
// answer 404 and the second-factor page offers no passkey.

func (p *Provider) passkeyOptions(w http.ResponseWriter, r *http.Request, ia *interaction) {
	p.errorPage(w, r, http.StatusNotFound, "not_found", "")
}

func (p *Provider) passkeyStep(w http.ResponseWriter, r *http.Request, ia *interaction) {
	p.errorPage(w, r, http.StatusNotFound, "not_found", "")
}

func (p *Provider) passkeyRegisterOptions(w http.ResponseWriter, r *http.Request, ia *interaction) {
	p.errorPage(w, r, http.StatusNotFound, "not_found", "")
}

func (p *Provider) passkeyRegister(w http.ResponseWriter, r *http.Request, ia *interaction) {
	p.errorPage(w, r, http.StatusNotFound, "not_found", "")
}
