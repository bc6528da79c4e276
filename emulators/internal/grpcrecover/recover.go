// Package grpcrecover keeps a gRPC server alive through a panic in one of
// its handlers: the panic is logged with its stack and the call fails with
// codes.Internal, as production's servers answer a bug of theirs, instead of
// taking the whole emulator down. Go runs a deferred recover only on the
// goroutine that panicked, so background goroutines guard themselves with Go.
package grpcrecover

import (
	"context"
	"log"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Logf reports recovered panics; tests may replace it.
var Logf = log.Printf

// Unary recovers a panic in a unary handler (or the interceptors after it).
func Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, internal(info.FullMethod, r)
		}
	}()
	return h(ctx, req)
}

// Stream recovers a panic in a streaming handler.
func Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internal(info.FullMethod, r)
		}
	}()
	return h(srv, ss)
}

// ServerOptions installs Unary and Stream; put them before interceptors
// whose panics they should catch.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(Unary), grpc.ChainStreamInterceptor(Stream)}
}

func internal(method string, r any) error {
	Logf("panic in %s (the call fails with INTERNAL, the server goes on): %v\n%s", method, r, debug.Stack())
	return status.Errorf(codes.Internal, "emulator bug in %s: %v", method, r)
}

// Go runs f on a new goroutine, logging instead of crashing if it panics.
func Go(name string, f func()) {
	go Run(name, f)
}

// Run calls f, logging and swallowing a panic in it; it reports whether f
// returned normally.
func Run(name string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			Logf("panic in %s (recovered, the server goes on): %v\n%s", name, r, debug.Stack())
			ok = false
		}
	}()
	f()
	return true
}
