package op

import "net/http"

// ID-card login (Web eID, identity/webeid): being written; until then these
// steps answer 404.

func (p *Provider) cardChallenge(w http.ResponseWriter, r *http.Request, ia *interaction) {
	p.errorPage(w, r, http.StatusNotFound, "not_found", "")
}

func (p *Provider) cardStep(w http.ResponseWriter, r *http.Request, ia *interaction) {
	p.errorPage(w, r, http.StatusNotFound, "not_found", "")
}
