package peer

import (
	"fmt"
	"net/http"

	"sw/cluster/api"
	"sw/cluster/consensus"
	"sw/cluster/store"
)

// Error codes carried over the peer API, so a kind of error survives the
// trip to the leader and back (EncodeError, DecodeError).
const (
	// CodeNotLeader: the manager asked is not the Raft leader.
	CodeNotLeader = "not_leader"
	// CodeNameInUse carries store.ErrNameInUse.
	CodeNameInUse = "name_in_use"
	// CodeConflict carries store.ErrConflict.
	CodeConflict = "conflict"
	// CodeNotFound carries store.ErrNotFound.
	CodeNotFound = "not_found"
	// CodeBadRequest carries api.ErrBadRequest.
	CodeBadRequest = "bad_request"
	// CodeUnavailable carries api.ErrUnavailable.
	CodeUnavailable = "unavailable"
	// CodeForbidden: the caller may not do this.
	CodeForbidden = "forbidden"
	// CodeAddrInUse carries store.ErrAddrInUse.
	CodeAddrInUse = "addr_in_use"
	// CodeInUse carries store.ErrInUse.
	CodeInUse = "in_use"
	// CodeThrottled: too many failed attempts from the caller's address.
	CodeThrottled = "throttled"
)

var codeKinds = []struct {
	code   string
	kind   error
	status int
}{
	{CodeNameInUse, store.ErrNameInUse, http.StatusConflict}, {CodeConflict, store.ErrConflict, http.StatusConflict},
	{CodeNotFound, store.ErrNotFound, http.StatusNotFound}, {CodeBadRequest, api.ErrBadRequest, http.StatusBadRequest},
	{CodeUnavailable, api.ErrUnavailable, http.StatusServiceUnavailable},
	{CodeAddrInUse, store.ErrAddrInUse, http.StatusConflict},
	{CodeInUse, store.ErrInUse, http.StatusConflict},
}

// EncodeError is the HTTP status and body that carry err to a peer: its
// kind as a code, its text as the message.
func EncodeError(err error) (int, ErrorBody) {
	// The outermost kind decides (store.KindIs): a cause an error keeps
	// does not change its code.
	if store.KindIs(err, consensus.ErrNotLeader) {
		return http.StatusServiceUnavailable, ErrorBody{Message: err.Error(), Code: CodeNotLeader}
	}
	if store.KindIs(err, consensus.ErrNoSpace) {
		return http.StatusServiceUnavailable, ErrorBody{Message: err.Error(), Code: CodeUnavailable}
	}
	for _, ck := range codeKinds {
		if store.KindIs(err, ck.kind) {
			return ck.status, ErrorBody{Message: err.Error(), Code: ck.code}
		}
	}
	return http.StatusInternalServerError, ErrorBody{Message: err.Error()}
}

// DecodeError turns a peer's answer back into an error of the kind its
// code names (errors.Is finds it), with the peer's message.
func DecodeError(pe *Error) error {
	for _, ck := range codeKinds {
		if pe.Code == ck.code {
			return store.Errorf(ck.kind, "%s", pe.Message)
		}
	}
	return fmt.Errorf("%s", pe.Message)
}
