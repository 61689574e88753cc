package sdk

import (
	"context"
	"errors"
	"io"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "github.com/turnout/turnout/plugins/sdk/internal/pluginv1"
)

// backendPlugin binds a Backend to go-plugin: the server half in the
// plugin process, the client half in Turnout.
type backendPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Backend
}

var _ plugin.GRPCPlugin = (*backendPlugin)(nil)

func (p *backendPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterBaseServer(s, &baseServer{impl: p.impl})
	pb.RegisterBackendServer(s, &backendServer{impl: p.impl})
	return nil
}

func (p *backendPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &backendClient{baseClient: baseClient{base: pb.NewBaseClient(c)}, backend: pb.NewBackendClient(c)}, nil
}

type backendServer struct {
	pb.UnimplementedBackendServer
	impl Backend
}

func (s *backendServer) Watch(req *pb.WatchRequest, stream grpc.ServerStreamingServer[pb.Snapshot]) error {
	ctx := stream.Context()
	ch, err := s.impl.Watch(ctx, Target{Scheme: req.Scheme, Ref: req.Ref})
	if err != nil {
		return toStatus(err)
	}
	// The header tells the host the watch was accepted, before the first
	// snapshot (which may take a while) arrives.
	if err := stream.SendHeader(metadata.Pairs("turnout-watch", "accepted")); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case snap, ok := <-ch:
			if !ok {
				return nil
			}
			if err := stream.Send(snapshotToProto(snap)); err != nil {
				return err
			}
		}
	}
}

type backendClient struct {
	baseClient
	backend pb.BackendClient
}

// Watch returns once the plugin accepted or refused the target; snapshots
// then arrive on the channel, which is closed when ctx ends or the stream
// breaks (the plugin process died).
func (c *backendClient) Watch(ctx context.Context, t Target) (<-chan Snapshot, error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.backend.Watch(ctx, &pb.WatchRequest{Scheme: t.Scheme, Ref: t.Ref})
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	md, err := stream.Header()
	if err == nil && md == nil {
		// Ended without a header: the status says why.
		_, err = stream.Recv()
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("watch ended before it started")
		}
	}
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	ch := make(chan Snapshot)
	go func() {
		defer cancel()
		defer close(ch)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case ch <- snapshotFromProto(m):
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

func snapshotToProto(s Snapshot) *pb.Snapshot {
	out := &pb.Snapshot{Revision: s.Revision, Ready: s.Ready, Reason: s.Reason, Error: s.Error}
	for _, e := range s.Endpoints {
		out.Endpoints = append(out.Endpoints, &pb.Endpoint{Address: e.Address, Healthy: e.Healthy, Labels: e.Labels, Host: e.Host})
	}
	return out
}

func snapshotFromProto(m *pb.Snapshot) Snapshot {
	s := Snapshot{Revision: m.Revision, Ready: m.Ready, Reason: m.Reason, Error: m.Error}
	for _, e := range m.Endpoints {
		s.Endpoints = append(s.Endpoints, Endpoint{Address: e.Address, Healthy: e.Healthy, Labels: e.Labels, Host: e.Host})
	}
	return s
}
