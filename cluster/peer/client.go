package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Client calls the peer API of managers over mutual TLS.
type Client struct {
	dialer *Dialer
	http   *http.Client
}

// NewClient makes a client whose connections come from d.
func NewClient(d *Dialer) *Client {
	tr := &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return d.Dial(ctx, addr, KindAPI)
		},
		// A manager forwards the writes of the workers it serves to the
		// leader, many at once: with few idle connections kept, each burst
		// would open (and handshake) new ones, then drop them.
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{dialer: d, http: &http.Client{Transport: tr}}
}

// JoinClient makes a client for a node that has no certificate yet: conf
// verifies the manager against the join token.
func JoinClient(conf *tls.Config) *Client {
	return NewClient(&Dialer{TLS: func() *tls.Config { return conf }})
}

// Error is a failed peer call as the remote explained it.
type Error struct {
	Status  int
	Message string
	Code    string
}

func (e *Error) Error() string { return e.Message }

// IsCode reports whether err is a peer Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Do calls method path on the manager at addr (host:port), sending in and
// decoding the answer into out (either may be nil).
func (c *Client) Do(ctx context.Context, addr, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := "https://" + addr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("peer %s: %w", addr, err)
	}
	// Read to the end (the encoder's trailing newline, an answer not
	// wanted) before closing: a body closed early costs its connection,
	// and the next call a new TLS handshake.
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		resp.Body.Close()
	}()
	if resp.StatusCode >= 300 {
		var e ErrorBody
		if json.NewDecoder(resp.Body).Decode(&e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("peer %s: %s", addr, resp.Status)
		}
		return &Error{Status: resp.StatusCode, Message: e.Message, Code: e.Code}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// maxDrain is how much of an answer's unread rest is read to keep its
// connection; past it, the connection is dropped instead.
const maxDrain = 64 << 10

// Stream calls GET path on the peer at addr (host:port) and returns the
// body of its answer to read as it comes, until it ends or ctx does; the
// caller closes it. An answer that is not a success is an *Error.
func (c *Client) Stream(ctx context.Context, addr, path string, q url.Values) (io.ReadCloser, error) {
	u := "https://" + addr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", addr, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e ErrorBody
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("peer %s: %s", addr, resp.Status)
		}
		return nil, &Error{Status: resp.StatusCode, Message: e.Message, Code: e.Code}
	}
	return resp.Body, nil
}

// CloseIdle drops idle connections (after a certificate change).
func (c *Client) CloseIdle() { c.http.CloseIdleConnections() }
