package sdk

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/turnout/turnout/plugins/sdk/internal/pluginv1"
)

// policyPlugin binds a Policy to go-plugin.
type policyPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Policy
}

var _ plugin.GRPCPlugin = (*policyPlugin)(nil)

func (p *policyPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterBaseServer(s, &baseServer{impl: p.impl})
	pb.RegisterPolicyServer(s, &policyServer{impl: p.impl})
	return nil
}

func (p *policyPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &policyClient{baseClient: baseClient{base: pb.NewBaseClient(c)}, policy: pb.NewPolicyClient(c)}, nil
}

type policyServer struct {
	pb.UnimplementedPolicyServer
	impl Policy
}

func (s *policyServer) ValidateConfig(ctx context.Context, req *pb.ValidateConfigRequest) (*pb.ValidateConfigResponse, error) {
	if err := s.impl.ValidateConfig(ctx, rawOrEmpty(req.ConfigJson), req.Routes); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ValidateConfigResponse{}, nil
}

func (s *policyServer) Decide(ctx context.Context, req *pb.DecideRequest) (*pb.DecideResponse, error) {
	d, err := s.impl.Decide(ctx, inputFromProto(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return decisionToProto(d), nil
}

type policyClient struct {
	baseClient
	policy pb.PolicyClient
}

func (c *policyClient) ValidateConfig(ctx context.Context, config json.RawMessage, routes []string) error {
	_, err := c.policy.ValidateConfig(ctx, &pb.ValidateConfigRequest{ConfigJson: config, Routes: routes})
	return fromStatus(err)
}

func (c *policyClient) Decide(ctx context.Context, in Input) (Decision, error) {
	r, err := c.policy.Decide(ctx, inputToProto(in))
	if err != nil {
		return Decision{}, fromStatus(err)
	}
	return decisionFromProto(r), nil
}

func rawOrEmpty(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return json.RawMessage(b)
}

func inputToProto(in Input) *pb.DecideRequest {
	r := &pb.DecideRequest{
		Gateway:    in.Gateway,
		ConfigJson: in.Config,
		State:      in.State,
		Now:        timestamppb.New(in.Now),
		Window:     durationpb.New(in.Window),
		Command:    string(in.Command),
	}
	for _, m := range in.Routes {
		r.Routes = append(r.Routes, &pb.RouteMetrics{
			Route:         m.Route,
			Weight:        int32(m.Weight),
			Ready:         m.Ready,
			Requests:      m.Requests,
			Responses:     m.Responses[:],
			ConnectErrors: m.ConnectErrors,
			Timeouts:      m.Timeouts,
			P50:           durationpb.New(m.P50),
			P90:           durationpb.New(m.P90),
			P99:           durationpb.New(m.P99),
		})
	}
	return r
}

func inputFromProto(r *pb.DecideRequest) Input {
	in := Input{
		Gateway: r.Gateway,
		Config:  rawOrEmpty(r.ConfigJson),
		Now:     r.Now.AsTime(),
		Window:  r.Window.AsDuration(),
		Command: Command(r.Command),
	}
	if len(r.State) > 0 {
		in.State = json.RawMessage(r.State)
	}
	for _, m := range r.Routes {
		rm := RouteMetrics{
			Route:         m.Route,
			Weight:        int(m.Weight),
			Ready:         m.Ready,
			Requests:      m.Requests,
			ConnectErrors: m.ConnectErrors,
			Timeouts:      m.Timeouts,
			P50:           m.P50.AsDuration(),
			P90:           m.P90.AsDuration(),
			P99:           m.P99.AsDuration(),
		}
		copy(rm.Responses[:], m.Responses)
		in.Routes = append(in.Routes, rm)
	}
	return in
}

func decisionToProto(d Decision) *pb.DecideResponse {
	r := &pb.DecideResponse{
		Action:     string(d.Action),
		Reason:     d.Reason,
		State:      d.State,
		Phase:      d.Phase,
		Next:       durationpb.New(d.Next),
		HasWeights: d.Weights != nil,
	}
	if d.Weights != nil {
		r.Weights = make(map[string]int32, len(d.Weights))
		for k, v := range d.Weights {
			r.Weights[k] = int32(v)
		}
	}
	for _, c := range d.Checks {
		r.Checks = append(r.Checks, &pb.Check{Name: c.Name, Route: c.Route, Value: c.Value, Limit: c.Limit, Passed: c.Passed, Detail: c.Detail})
	}
	return r
}

func decisionFromProto(r *pb.DecideResponse) Decision {
	d := Decision{Action: Action(r.Action), Reason: r.Reason, Phase: r.Phase, Next: r.Next.AsDuration()}
	if len(r.State) > 0 {
		d.State = json.RawMessage(r.State)
	}
	if r.HasWeights {
		d.Weights = make(map[string]int, len(r.Weights))
		for k, v := range r.Weights {
			d.Weights[k] = int(v)
		}
	}
	for _, c := range r.Checks {
		d.Checks = append(d.Checks, Check{Name: c.Name, Route: c.Route, Value: c.Value, Limit: c.Limit, Passed: c.Passed, Detail: c.Detail})
	}
	return d
}
