package swift

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	ncw "github.com/ncw/swift/v2"

	"github.com/coffre-cloud/coffre/backend/internal/remote"
)

// retrier repeats requests that failed transiently, with exponential
// backoff and jitter.
type retrier struct {
	remote.Backoff
}

// final marks an error that must not be retried whatever it is: the
// request's body was a stream, and some of it was consumed.
type final struct{ err error }

func (e final) Error() string { return e.err.Error() }
func (e final) Unwrap() error { return e.err }

// do calls fn until it returns nil, an error that is not transient, or a
// final one, until the retries are spent, or until ctx ends. With conn not
// nil, a 401 (an expired or revoked token) logs in again once, without
// counting as a retry. It returns fn's last error (unwrapped from final).
func (r retrier) do(ctx context.Context, conn *ncw.Connection, fn func() error) error {
	reauth := conn != nil
	for attempt := 0; ; {
		err := fn()
		if err == nil {
			return nil
		}
		var f final
		if errors.As(err, &f) {
			return f.err
		}
		if ctx.Err() != nil {
			return err
		}
		if reauth && status(err) == http.StatusUnauthorized {
			reauth = false
			conn.UnAuthenticate()
			continue
		}
		if !transient(err) || attempt >= r.Retries {
			return err
		}
		if !remote.Sleep(ctx, r.Wait(attempt)) {
			return err
		}
		attempt++
	}
}

// transient reports whether err may go away if the request is repeated:
// the server was overloaded, unavailable, or timed out (408, 429, 498,
// 5xx but 501 and 505), the bytes changed in transit (422: only a request
// that sent its MD5 gets it), or the connection failed (refused, reset,
// closed mid-response, timed out).
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *ncw.Error
	if errors.As(err, &se) {
		switch se.StatusCode {
		case http.StatusRequestTimeout, http.StatusUnprocessableEntity, http.StatusTooManyRequests, 498,
			http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	return errors.As(err, &oe) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// noResponse reports whether err says that no HTTP response came back, so
// the request may or may not have taken effect.
func noResponse(err error) bool {
	return err != nil && (status(err) == 0 || errors.Is(err, ncw.TimeoutError))
}
