package pubsubserver

import (
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"

	"github.com/etl-pipeline/emulators/internal/grpcrecover"
	"github.com/etl-pipeline/emulators/internal/pubsubfidelity"
	"github.com/etl-pipeline/emulators/internal/pubsubschema"
)

// fidelityOptions put panic recovery, then the check of resource names
// (INVALID_ARGUMENT before anything answers NOT_FOUND), then the schema
// checks (which add attributes to published messages), then the fidelity
// layer (unary calls and the first request of a stream), in front of every
// handler (after the readiness gate).
func fidelityOptions(l *pubsubfidelity.Layer, schemas *pubsubschema.Layer) []grpc.ServerOption {
	return append(grpcrecover.ServerOptions(), grpc.ChainUnaryInterceptor(pubsubfidelity.CheckNames, schemas.Unary, l.Unary), grpc.ChainStreamInterceptor(l.Stream))
}

// Messages are the latest messages published (at most 1,000, acknowledged
// or not), for the admin API: pstest's own list stays empty, since Publish
// is served by the fidelity layer.
func (s *Server) Messages() []*pstest.Message { return s.fidelity.Messages() }

// Parked counts, by subscription, the messages the fidelity layer holds
// outside pstest (beyond its window), for the admin API's backlog.
func (s *Server) Parked() map[string]int { return s.fidelity.Parked() }
