package gcpfake

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// operation is one Compute Engine operation the server started.
type operation struct {
	project, name string
	// scope is "zones/z", "regions/r" or "global".
	scope     string
	opType    string
	target    string // the relative name of the resource it changes
	status    computepb.Operation_Status
	pollsLeft int
	fault     *OperationFault
	inserted  time.Time
	ended     time.Time
	change    change
}

// id is the operation's relative name.
func (o *operation) id() string {
	return "projects/" + o.project + "/" + o.scope + "/operations/" + o.name
}

// message encodes the operation as the API serves it.
func (o *operation) message() *computepb.Operation {
	m := &computepb.Operation{
		Kind: proto.String("compute#operation"), Id: proto.Uint64(NumericID(o.id())), Name: proto.String(o.name),
		OperationType: proto.String(o.opType), TargetLink: proto.String(link(o.target)), TargetId: proto.Uint64(NumericID(o.target)),
		Status: o.status.Enum(), User: proto.String("cloudtrim@fake.iam.gserviceaccount.com"), Progress: proto.Int32(0),
		InsertTime: timestamp(o.inserted), StartTime: timestamp(o.inserted), SelfLink: proto.String(link(o.id())),
	}
	switch {
	case strings.HasPrefix(o.scope, "zones/"):
		m.Zone = proto.String(link("projects/" + o.project + "/" + o.scope))
	case strings.HasPrefix(o.scope, "regions/"):
		m.Region = proto.String(link("projects/" + o.project + "/" + o.scope))
	}
	if o.status == computepb.Operation_DONE {
		m.Progress = proto.Int32(100)
		m.EndTime = timestamp(o.ended)
	}
	if o.fault != nil && o.status == computepb.Operation_DONE {
		m.Error = &computepb.Error{Errors: []*computepb.Errors{{Code: proto.String(o.fault.Code), Message: proto.String(o.fault.Message)}}}
		m.HttpErrorStatusCode = proto.Int32(int32(o.fault.HTTPStatus))
		m.HttpErrorMessage = proto.String(http.StatusText(o.fault.HTTPStatus))
	}
	return m
}

// startOperation starts the operation of an accepted change: the
// change's transitional state now, its result (or the injected fault)
// once the operation has been polled OperationPolls times. The lock is
// held.
func (s *Server) startOperation(req *request, scope string, ch change, requestID string) *operation {
	s.opSeq++
	now := s.opts.Now()
	o := &operation{project: req.project, scope: scope, opType: ch.opType, target: ch.target, status: computepb.Operation_RUNNING,
		pollsLeft: s.opts.OperationPolls, inserted: now,
		name: fmt.Sprintf("operation-%d-%08x", now.UnixMilli(), uint32(NumericID(fmt.Sprint(s.opSeq))))}
	ch.mutation.RequestID = requestID
	o.change = ch
	if f, ok := s.opFaults[ch.target]; ok {
		delete(s.opFaults, ch.target)
		o.fault = &f
	}
	s.ops[o.id()] = o
	if requestID != "" {
		s.requests[req.project+"\x00"+requestID] = o
	}
	if ch.begin != nil {
		ch.begin()
	}
	if o.pollsLeft < 0 {
		s.finish(o)
	}
	return o
}

// finish ends an operation: it applies its change and logs the
// mutation, or, for an injected fault, undoes the transitional state.
// The lock is held.
func (s *Server) finish(o *operation) {
	if o.status == computepb.Operation_DONE {
		return
	}
	o.status, o.ended = computepb.Operation_DONE, s.opts.Now()
	if o.fault != nil {
		if o.change.undo != nil {
			o.change.undo()
		}
		return
	}
	o.change.apply()
	s.mutations = append(s.mutations, o.change.mutation)
}

// operationOf finds the operation a request names. The lock is held.
func (s *Server) operationOf(req *request) (*operation, *apiError) {
	scope, name := "global", req.parts[2]
	if req.parts[0] != "global" {
		scope, name = req.parts[0]+"/"+req.parts[1], req.parts[3]
	}
	id := "projects/" + req.project + "/" + scope + "/operations/" + name
	o := s.ops[id]
	if o == nil {
		return nil, notFound(id)
	}
	return o, nil
}

// pollOperation answers the get of an operation; each get of one not
// done counts a poll. The lock is held.
func (s *Server) pollOperation(req *request) (proto.Message, *apiError) {
	o, aerr := s.operationOf(req)
	if aerr != nil {
		return nil, aerr
	}
	if o.status != computepb.Operation_DONE {
		o.pollsLeft--
		if o.pollsLeft <= 0 {
			s.finish(o)
		}
	}
	return o.message(), nil
}

// waitOperation answers an operation's wait: the real one returns once
// the operation is done (or after about two minutes); the fake ends it
// at once. The lock is held.
func (s *Server) waitOperation(req *request) (proto.Message, *apiError) {
	o, aerr := s.operationOf(req)
	if aerr != nil {
		return nil, aerr
	}
	s.finish(o)
	return o.message(), nil
}
