# syntax=docker/dockerfile:1
#
# Turnout's container image: the same static binary as `make release`, on
# Alpine (a shell for Marathon's "cmd", CA certificates for an HTTPS
# Marathon), run as an unprivileged user.
#
#   docker build -t turnout/turnout:0.1.0 --build-arg VERSION=v0.1.0 .
#   docker run -e TURNOUT_TOKEN="$(openssl rand -hex 32)" -p 9880:9880 -p 8080:8080 turnout/turnout:0.1.0 serve --demo
#
# The Universe package does not need this image: it fetches the release
# tarball and runs the binary with the Mesos containerizer
# (docs/install-dcos.md).

ARG GO_VERSION=1.26.10

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# Modules first: a change to the code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/turnout ./cmd/turnout

FROM alpine:3.22
RUN apk add --no-cache ca-certificates \
 && addgroup -S -g 10001 turnout \
 && adduser -S -D -H -u 10001 -G turnout -s /sbin/nologin turnout \
 && mkdir -p /var/lib/turnout \
 && chown turnout:turnout /var/lib/turnout
COPY --from=build /out/turnout /usr/local/bin/turnout
USER 10001:10001
# The admin listener on every interface (the binary's default is
# 127.0.0.1, which is unreachable from outside a container), so serve
# needs TURNOUT_TOKEN or --token-file to start; the store in the volume.
ENV TURNOUT_ADMIN=0.0.0.0:9880 \
    TURNOUT_DATA_DIR=/var/lib/turnout
VOLUME /var/lib/turnout
EXPOSE 9880
ENTRYPOINT ["/usr/local/bin/turnout"]
CMD ["serve"]
