package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"sw/cluster/types"
)

// DefaultHost is where the CLI looks for the daemon.
const DefaultHost = "unix:///run/sw/sw.sock"

// Client talks to one daemon over its unix socket.
type Client struct {
	host string
	http *http.Client
}

// Error is a failed API call, as the daemon explained it.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// IsNotFound reports whether err is a 404 from the daemon.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsConflict reports whether err is a 409 from the daemon.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusConflict
}

// NewClient returns a client for a host given as unix:///path.
func NewClient(host string) (*Client, error) {
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok || path == "" {
		return nil, fmt.Errorf("invalid daemon host %q: want unix:///path/to/sw.sock", host)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{host: host, http: &http.Client{Transport: tr}}, nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) (uint64, error) {
	resp, err := c.send(ctx, method, path, q, in)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	idx, _ := strconv.ParseUint(resp.Header.Get(HeaderIndex), 10, 64)
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return 0, fmt.Errorf("reading the daemon's answer: %w", err)
		}
	}
	return idx, nil
}

func (c *Client) send(ctx context.Context, method, path string, q url.Values, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	return c.sendBody(ctx, method, path, q, body, nil)
}

// sendBody sends a request with the given body and headers; a status of
// 300 or more is returned as an *Error.
func (c *Client) sendBody(ctx context.Context, method, path string, q url.Values, body io.Reader, h http.Header) (*http.Response, error) {
	u := "http://sw" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot connect to the sw daemon at %s: is it running? (start one with 'sw daemon', or point -H/SW_HOST at a running one): %w",
			c.host, errors.Unwrap(err))
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e ErrorResponse
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Message == "" {
			e.Message = resp.Status
		}
		return nil, &Error{Status: resp.StatusCode, Message: e.Message}
	}
	return resp, nil
}

// Info returns `sw info`.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var out Info
	_, err := c.do(ctx, http.MethodGet, "/v1/info", nil, nil, &out)
	return out, err
}

// Init makes the daemon's node the first manager of a new swarm.
func (c *Client) Init(ctx context.Context, req InitRequest) (InitResponse, error) {
	var out InitResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/swarm/init", nil, req, &out)
	return out, err
}

// Leave takes the node out of its swarm.
func (c *Client) Leave(ctx context.Context, force bool) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/swarm/leave", nil, LeaveRequest{Force: force}, nil)
	return err
}

// Join makes the daemon's node join a swarm.
func (c *Client) Join(ctx context.Context, req JoinRequest) (JoinResponse, error) {
	var out JoinResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/swarm/join", nil, req, &out)
	return out, err
}

// Swarm describes the swarm (managers only).
func (c *Client) Swarm(ctx context.Context) (Swarm, error) {
	var out Swarm
	_, err := c.do(ctx, http.MethodGet, "/v1/swarm", nil, nil, &out)
	return out, err
}

// UpdateSwarm changes swarm settings or rotates join tokens.
func (c *Client) UpdateSwarm(ctx context.Context, req SwarmUpdateRequest) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/swarm/update", nil, req, nil)
	return err
}

// Nodes lists the nodes.
func (c *Client) Nodes(ctx context.Context) ([]*types.Node, error) {
	var out []*types.Node
	_, err := c.do(ctx, http.MethodGet, "/v1/nodes", nil, nil, &out)
	return out, err
}

// Node finds one node by ID, hostname or ID prefix.
func (c *Client) Node(ctx context.Context, ref string) (*types.Node, error) {
	var out types.Node
	_, err := c.do(ctx, http.MethodGet, "/v1/nodes/"+url.PathEscape(ref), nil, nil, &out)
	return &out, err
}

// UpdateNode changes a node's availability or role.
func (c *Client) UpdateNode(ctx context.Context, ref string, req NodeUpdateRequest) (NodeUpdateResponse, error) {
	var out NodeUpdateResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(ref)+"/update", nil, req, &out)
	return out, err
}

// RemoveNode removes a node from the swarm.
func (c *Client) RemoveNode(ctx context.Context, ref string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	_, err := c.do(ctx, http.MethodDelete, "/v1/nodes/"+url.PathEscape(ref), q, nil, nil)
	return err
}

// Plugins lists the plugins and whether the swarm has each on.
func (c *Client) Plugins(ctx context.Context) ([]Plugin, error) {
	var out []Plugin
	_, err := c.do(ctx, http.MethodGet, "/v1/plugins", nil, nil, &out)
	return out, err
}

// SetPlugin enables or disables a plugin for the whole swarm.
func (c *Client) SetPlugin(ctx context.Context, name string, on bool) error {
	action := "disable"
	if on {
		action = "enable"
	}
	_, err := c.do(ctx, http.MethodPost, "/v1/plugins/"+url.PathEscape(name)+"/"+action, nil, nil, nil)
	return err
}

// Services lists the services.
func (c *Client) Services(ctx context.Context) ([]*types.Service, error) {
	var out []*types.Service
	_, err := c.do(ctx, http.MethodGet, "/v1/services", nil, nil, &out)
	return out, err
}

// ServiceStatuses counts every service's tasks.
func (c *Client) ServiceStatuses(ctx context.Context) ([]ServiceStatus, error) {
	var out []ServiceStatus
	_, err := c.do(ctx, http.MethodGet, "/v1/service-status", nil, nil, &out)
	return out, err
}

// Service finds one service by ID, name or ID prefix.
func (c *Client) Service(ctx context.Context, ref string) (*types.Service, error) {
	var out types.Service
	_, err := c.do(ctx, http.MethodGet, "/v1/services/"+url.PathEscape(ref), nil, nil, &out)
	return &out, err
}

// CreateService creates a service and returns its ID.
func (c *Client) CreateService(ctx context.Context, spec types.ServiceSpec) (string, error) {
	var out CreateResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/services", nil, spec, &out)
	return out.ID, err
}

// RollbackService puts a service's previous spec back, if it is still at
// version.
func (c *Client) RollbackService(ctx context.Context, ref string, version uint64) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(ref)+"/rollback", nil,
		RollbackServiceRequest{Version: version}, nil)
	return err
}

// UpdateService replaces a service's spec, if it is still at version.
func (c *Client) UpdateService(ctx context.Context, ref string, version uint64, spec types.ServiceSpec) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(ref)+"/update", nil,
		UpdateServiceRequest{Version: version, Spec: types.StrictSpec{ServiceSpec: spec}}, nil)
	return err
}

// RemoveService removes a service and, in time, its tasks.
func (c *Client) RemoveService(ctx context.Context, ref string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/services/"+url.PathEscape(ref), nil, nil, nil)
	return err
}

// Networks lists the networks.
func (c *Client) Networks(ctx context.Context) ([]*types.Network, error) {
	var out []*types.Network
	_, err := c.do(ctx, http.MethodGet, "/v1/networks", nil, nil, &out)
	return out, err
}

// Network finds one network by ID, name or ID prefix.
func (c *Client) Network(ctx context.Context, ref string) (*types.Network, error) {
	var out types.Network
	_, err := c.do(ctx, http.MethodGet, "/v1/networks/"+url.PathEscape(ref), nil, nil, &out)
	return &out, err
}

// CreateNetwork creates a network and returns its ID.
func (c *Client) CreateNetwork(ctx context.Context, spec types.NetworkSpec) (string, error) {
	var out CreateResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/networks", nil, spec, &out)
	return out.ID, err
}

// RemoveNetwork removes a network no service uses.
func (c *Client) RemoveNetwork(ctx context.Context, ref string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/networks/"+url.PathEscape(ref), nil, nil, nil)
	return err
}

// TaskQuery selects tasks; Wait > 0 blocks until the state is newer than it.
type TaskQuery struct {
	Service, Node string
	Wait          uint64
}

// Tasks lists tasks and returns the store index they reflect.
func (c *Client) Tasks(ctx context.Context, q TaskQuery) ([]*types.Task, uint64, error) {
	v := url.Values{}
	if q.Service != "" {
		v.Set("service", q.Service)
	}
	if q.Node != "" {
		v.Set("node", q.Node)
	}
	if q.Wait > 0 {
		v.Set("wait", strconv.FormatUint(q.Wait, 10))
	}
	var out []*types.Task
	idx, err := c.do(ctx, http.MethodGet, "/v1/tasks", v, nil, &out)
	return out, idx, err
}

// Task finds one task by ID or ID prefix.
func (c *Client) Task(ctx context.Context, ref string) (*types.Task, error) {
	var out types.Task
	_, err := c.do(ctx, http.MethodGet, "/v1/tasks/"+url.PathEscape(ref), nil, nil, &out)
	return &out, err
}

// LogsQuery selects a service's or a task's logs.
type LogsQuery struct {
	Service, Task string
	Follow        bool
	Tail          string
}

// Logs copies log lines to w until they end (or ctx ends, when following).
func (c *Client) Logs(ctx context.Context, q LogsQuery, w io.Writer) error {
	v := url.Values{}
	if q.Task != "" {
		v.Set("task", q.Task)
	} else {
		v.Set("service", q.Service)
	}
	if q.Follow {
		v.Set("follow", "1")
	}
	if q.Tail != "" {
		v.Set("tail", q.Tail)
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/logs", v, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
