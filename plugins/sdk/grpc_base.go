package sdk

import (
	"context"
	"encoding/json"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/turnout/turnout/plugins/sdk/internal/pluginv1"
)

// baseServer serves Plugin's methods over gRPC for either kind.
type baseServer struct {
	pb.UnimplementedBaseServer
	impl Plugin
}

func (s *baseServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.InfoResponse{
		Name:        info.Name,
		Kind:        string(info.Kind),
		Version:     info.Version,
		Schemes:     info.Schemes,
		Description: info.Description,
	}
	versions := info.APIVersions
	if len(versions) == 0 {
		versions = APIVersions
	}
	for _, v := range versions {
		out.ApiVersions = append(out.ApiVersions, int32(v))
	}
	return out, nil
}

func (s *baseServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	cfg := json.RawMessage(req.ConfigJson)
	if len(cfg) == 0 {
		cfg = json.RawMessage("{}")
	}
	if err := s.impl.Configure(ctx, cfg); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

// baseClient is Plugin's methods over gRPC, for the host.
type baseClient struct {
	base pb.BaseClient
}

func (c *baseClient) Info(ctx context.Context) (Info, error) {
	r, err := c.base.Info(ctx, &pb.InfoRequest{})
	if err != nil {
		return Info{}, fromStatus(err)
	}
	info := Info{Name: r.Name, Kind: Kind(r.Kind), Version: r.Version, Schemes: r.Schemes, Description: r.Description}
	for _, v := range r.ApiVersions {
		info.APIVersions = append(info.APIVersions, int(v))
	}
	return info, nil
}

func (c *baseClient) Configure(ctx context.Context, config json.RawMessage) error {
	_, err := c.base.Configure(ctx, &pb.ConfigureRequest{ConfigJson: config})
	return fromStatus(err)
}

// toStatus carries a plugin's error to the host with its text intact; a
// context error keeps its meaning.
func toStatus(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// ErrUnavailable is wrapped by host-side calls that failed because the
// plugin process is gone or unreachable, as opposed to the plugin
// answering with an error.
var ErrUnavailable = errors.New("plugin unavailable")

// fromStatus turns a gRPC status back into the plugin's error text.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	case codes.Unavailable:
		return &unavailableError{msg: st.Message()}
	}
	return errors.New(st.Message())
}

type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return ErrUnavailable.Error() + ": " + e.msg }
func (e *unavailableError) Unwrap() error { return ErrUnavailable }
