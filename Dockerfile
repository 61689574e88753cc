# syntax=docker/dockerfile:1
#
# Turnout's container image, for people with Docker: the same as
# `make image` (internal/release/image.go) assembles without a Docker
# daemon. The static binary of `make release`, an empty /tmp and the store's
# volume, nothing else (no shell: on Marathon, give the image "args", not
# "cmd", which needs /bin/sh), run as an unprivileged user by number. The
# binary carries Mozilla's CA roots for an HTTPS Marathon (cmd/turnout/roots.go);
# mount a cluster's own CA and set SSL_CERT_FILE to use it instead.
#
#   docker build -t turnout/turnout:0.2.0 --build-arg VERSION=v0.2.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run -e TURNOUT_TOKEN="$(openssl rand -hex 32)" -p 9880:9880 -p 8080:8080 turnout/turnout:0.2.0 serve --demo
#
# internal/release's TestDockerfileBuildsTheImage checks that this file's
# configuration, files and build flags are make image's.

# go.mod's toolchain: the same compiler, so the same binary as make release.
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
# The image's files under /rootfs, with their owners and modes: COPY --from
# keeps them.
RUN mkdir -p /rootfs/tmp /rootfs/usr/local/bin /rootfs/var/lib/turnout \
 && chmod 1777 /rootfs/tmp \
 && chown 10001:10001 /rootfs/var/lib/turnout \
 && CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" -o /rootfs/usr/local/bin/turnout ./cmd/turnout

FROM scratch
COPY --from=build /rootfs/ /
USER 10001:10001
# The admin listener on every interface (the binary's default is
# 127.0.0.1, which is unreachable from outside a container), so serve
# needs TURNOUT_TOKEN or --token-file to start; the store in the volume.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TURNOUT_ADMIN=0.0.0.0:9880 \
    TURNOUT_DATA_DIR=/var/lib/turnout
VOLUME /var/lib/turnout
EXPOSE 9880
ARG VERSION=dev
ARG REVISION
LABEL org.opencontainers.image.title="turnout" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/turnout/turnout" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${REVISION}"
ENTRYPOINT ["/usr/local/bin/turnout"]
CMD ["serve"]
