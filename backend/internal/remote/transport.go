package remote

import (
	"net/http"
	"time"
)

// Transport carries the requests of a store: through the RoundTripper its
// Config gives, or else through a transport of the store's own.
type Transport struct {
	RoundTripper http.RoundTripper
	own          *http.Transport // or nil
}

// NewTransport returns the Transport of rt, or when rt is nil of a clone of
// http.DefaultTransport that keeps up to 64 idle connections to the server
// (a store's concurrent requests all go to one host), and waits at most
// headerTimeout (0: forever) for the headers of a response.
func NewTransport(rt http.RoundTripper, headerTimeout time.Duration) Transport {
	if rt != nil {
		return Transport{RoundTripper: rt}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = headerTimeout
	return Transport{RoundTripper: t, own: t}
}

// Close releases the idle connections of a transport of the store's own; a
// RoundTripper that the Config gave is its owner's to close.
func (t Transport) Close() error {
	if t.own != nil {
		t.own.CloseIdleConnections()
	}
	return nil
}
