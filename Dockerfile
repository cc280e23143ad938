# jwtwatch's container image, built from source:
#
#   docker build \
#     --build-arg VERSION="$(git describe --tags --always)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
#     -t jwtwatch .
#
# (podman build and buildah bud take the same arguments.) The final stage is the
# same as Dockerfile.release, which packs an already built binary instead;
# deploy/container's tests check that they stay the same.

ARG GO_IMAGE=docker.io/library/golang:1.26.8-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG REVISION=""
ARG CREATED=""
# A static binary (no libc in the final image); -X sets what --version and
# jwtwatch_build_info report (left empty, jwtwatch falls back to the Go build
# information).
RUN set -eu; \
    pkg=github.com/prometheus/common/version; \
    date="$(printf '%s' "$CREATED" | sed -E 's/^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9:]{8}).*/\1\2\3-\4/')"; \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X $pkg.Version=$VERSION -X $pkg.Revision=$REVISION -X $pkg.BuildDate=$date" \
      -o /out/jwtwatch ./cmd/jwtwatch

FROM scratch
ARG VERSION=""
ARG REVISION=""
ARG CREATED=""
LABEL org.opencontainers.image.title="jwtwatch" \
      org.opencontainers.image.description="Mirrors every JWT check of an API gateway against the current and previous signing keys, from its logs" \
      org.opencontainers.image.source="https://github.com/jwtwatch/jwtwatch" \
      org.opencontainers.image.documentation="https://github.com/jwtwatch/jwtwatch/blob/main/docs/install.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/jwtwatch /jwtwatch
# nobody: numeric, so that runAsNonRoot can check it; no shell, no passwd.
USER 65534:65534
EXPOSE 9824
ENTRYPOINT ["/jwtwatch"]
