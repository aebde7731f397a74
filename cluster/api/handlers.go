package api

import (
	"net/http"

	"sw/cluster/store"
	"sw/cluster/types"
)

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.backend.Info(r.Context()))
}

func (s *Server) init(w http.ResponseWriter, r *http.Request) {
	var req InitRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.backend.Init(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.backend.Join(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) swarmInfo(w http.ResponseWriter, r *http.Request) {
	sw, err := s.backend.SwarmInfo(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sw)
}

func (s *Server) updateSwarm(w http.ResponseWriter, r *http.Request) {
	var req SwarmUpdateRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := s.backend.UpdateSwarm(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) updateNode(w http.ResponseWriter, r *http.Request) {
	var req NodeUpdateRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.backend.UpdateNode(r.Context(), r.PathValue("ref"), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) removeNode(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveNode(r.Context(), r.PathValue("ref"), r.URL.Query().Get("force") == "1"); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) plugins(w http.ResponseWriter, r *http.Request) {
	ps, err := s.backend.Plugins(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

func (s *Server) setPlugin(w http.ResponseWriter, r *http.Request) {
	var on bool
	switch r.PathValue("action") {
	case "enable":
		on = true
	case "disable":
	default:
		writeError(w, store.Errorf(ErrBadRequest, "unknown plugin action %q", r.PathValue("action")))
		return
	}
	if err := s.backend.SetPlugin(r.Context(), r.PathValue("name"), on); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	var req LeaveRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := s.backend.Leave(r.Context(), req.Force); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// list serves every object of a kind.
func list[T any](s *Server, all func(*store.ReadTx) []*T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v, ok := s.view(w, r); ok {
			writeJSON(w, http.StatusOK, orEmpty(all(v)))
		}
	}
}

// get serves one object found by the {ref} in the path.
func get[T any](s *Server, find func(*store.ReadTx, string) (*T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v, ok := s.view(w, r); ok {
			o, err := find(v, r.PathValue("ref"))
			reply(w, o, err)
		}
	}
}

// serviceStatus counts every service's tasks (GET /v1/service-status).
func (s *Server) serviceStatus(w http.ResponseWriter, r *http.Request) {
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	out := []ServiceStatus{}
	for _, svc := range v.Services() {
		var c Counter
		v.EachTaskOfService(svc.ID, c.Add)
		out = append(out, c.Status(svc))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) tasks(w http.ResponseWriter, r *http.Request) {
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var tasks []*types.Task
	switch {
	case q.Get("service") != "":
		svc, err := v.FindService(q.Get("service"))
		if err != nil {
			writeError(w, err)
			return
		}
		tasks = v.TasksOfService(svc.ID)
	case q.Get("node") != "":
		n, err := v.FindNode(q.Get("node"))
		if err != nil {
			writeError(w, err)
			return
		}
		tasks = v.TasksOnNode(n.ID)
	default:
		tasks = v.Tasks()
	}
	writeJSON(w, http.StatusOK, orEmpty(tasks))
}

func (s *Server) createService(w http.ResponseWriter, r *http.Request) {
	var spec types.StrictSpec
	if err := decode(w, r, &spec); err != nil {
		writeError(w, err)
		return
	}
	id, err := s.backend.CreateService(r.Context(), spec.ServiceSpec)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, CreateResponse{ID: id})
}

func (s *Server) updateService(w http.ResponseWriter, r *http.Request) {
	var req UpdateServiceRequest
	s.changeService(w, r, &req, func(id string) error {
		return s.backend.UpdateService(r.Context(), id, req.Version, req.Spec.ServiceSpec)
	})
}

func (s *Server) rollbackService(w http.ResponseWriter, r *http.Request) {
	var req RollbackServiceRequest
	s.changeService(w, r, &req, func(id string) error {
		return s.backend.RollbackService(r.Context(), id, req.Version)
	})
}

// changeService reads a write's body into req, finds the service the path
// names, and runs change on its ID.
func (s *Server) changeService(w http.ResponseWriter, r *http.Request, req any, change func(id string) error) {
	if err := decode(w, r, req); err != nil {
		writeError(w, err)
		return
	}
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	svc, err := v.FindService(r.PathValue("ref"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := change(svc.ID); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) removeService(w http.ResponseWriter, r *http.Request) {
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	svc, err := v.FindService(r.PathValue("ref"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.backend.RemoveService(r.Context(), svc.ID); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) {
	var spec types.NetworkSpec
	if err := decode(w, r, &spec); err != nil {
		writeError(w, err)
		return
	}
	id, err := s.backend.CreateNetwork(r.Context(), spec)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, CreateResponse{ID: id})
}

func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) {
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	n, err := v.FindNetwork(r.PathValue("ref"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.backend.RemoveNetwork(r.Context(), n.ID); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// logs streams the logs of a service's tasks, or of one task
// (?service=REF or ?task=REF), as plain text lines.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var tasks []*types.Task
	if ref := q.Get("task"); ref != "" {
		t, err := v.FindTask(ref)
		if err != nil {
			writeError(w, err)
			return
		}
		tasks = []*types.Task{t}
	} else {
		svc, err := v.FindService(q.Get("service"))
		if err != nil {
			writeError(w, err)
			return
		}
		tasks = v.TasksOfService(svc.ID)
	}
	follow := q.Get("follow") == "1"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fw := &flushWriter{w: w}
	done := make(chan struct{}, len(tasks))
	for _, t := range tasks {
		go func() {
			defer func() { done <- struct{}{} }()
			if t.Status.ContainerID == "" {
				return
			}
			if err := s.backend.Logs(r.Context(), t, follow, q.Get("tail"), fw); err != nil && r.Context().Err() == nil {
				_ = writeLogError(fw, err.Error())
			}
		}()
	}
	for range tasks {
		<-done
	}
}

func reply[T any](w http.ResponseWriter, v *T, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func orEmpty[T any](xs []*T) []*T {
	if xs == nil {
		return []*T{}
	}
	return xs
}
