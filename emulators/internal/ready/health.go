package ready

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// HealthHandler serves grpc.health.v1.Health (Check, List, Watch) as a
// grpc.UnknownServiceHandler, for servers built by code that registers its
// own services and accepts only grpc.ServerOptions (bttest.NewServer).
// Any other unknown method is Unimplemented, as without a handler.
func (g *Gate) HealthHandler() grpc.StreamHandler {
	return func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		switch method {
		case healthPrefix + "Check":
			return unary(stream, g.Health.Check)
		case healthPrefix + "List":
			return unary(stream, g.Health.List)
		case healthPrefix + "Watch":
			req := new(healthpb.HealthCheckRequest)
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			return g.Health.Watch(req, &grpc.GenericServerStream[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse]{ServerStream: stream})
		}
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
}

// unary answers one request on stream with call.
func unary[Req, Resp any](stream grpc.ServerStream, call func(context.Context, *Req) (*Resp, error)) error {
	req := new(Req)
	if err := stream.RecvMsg(req); err != nil {
		return err
	}
	resp, err := call(stream.Context(), req)
	if err != nil {
		return err
	}
	return stream.SendMsg(resp)
}
