# syntax=docker/dockerfile:1
#
# The checkout service as a static binary on distroless, running as nonroot.
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" -t checkout .
#   docker run --rm -p 8080:8080 -e CHECKOUT_DEMO=on checkout    # the demo, asked for
#   docker run --rm -p 8080:8080 -e REDIS_URL=redis://redis:6379/0 \
#     -e CHECKOUT_CONFIG=/etc/checkout/merchants.yaml -v "$PWD/merchants.yaml:/etc/checkout/merchants.yaml:ro" \
#     -e CHECKOUT_SESSION_KEYS=… -e CHECKOUT_SIGNING_SECRET=… -e CHECKOUT_PUBLIC_URL=https://pay.example.com checkout
# Started without CHECKOUT_CONFIG, the container refuses to start
# (CHECKOUT_DEMO=off below): a forgotten variable must not put a demo, with
# its in-memory data, in production.

# An exact Go release, the one go.mod names (TestDockerfile checks the
# minor version). Registries publish no version tags for distroless, and
# none can be reached where this was written to resolve digests: pin the
# runtime by digest at release time if wanted
# (docker buildx imagetools inspect gcr.io/distroless/static-debian13:nonroot).
FROM golang:1.26.8-trixie AS build
WORKDIR /src
# Modules first, so that code changes do not download them again. The cache
# mounts (BuildKit) keep the module and build caches between builds, so a
# code change recompiles only the packages it touches.
COPY go.mod go.sum ./
# The client module (replaced by ./client in go.mod): its go.mod is enough to
# download; the service imports only its webhook signature package.
COPY client/go.mod client/
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The build context has no .git (.dockerignore), so the toolchain cannot
# record the commit: it is stamped from these (checkout -version prints them).
ARG VERSION=dev
ARG COMMIT=unknown
# Static (no cgo), reproducible paths, and the time zone database compiled
# in (-tags timetzdata), so that Asia/Shanghai resolves whatever the base
# image holds: no tzdata package step.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -tags timetzdata \
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/checkout ./cmd/checkout

FROM gcr.io/distroless/static-debian13:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="checkout" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
# distroless/static ships CA certificates (/etc/ssl/certs) for the gateway,
# WeChat and Alipay over TLS, and /usr/share/zoneinfo for anything outside Go.
COPY --from=build /out/checkout /usr/local/bin/checkout
ENV CHECKOUT_ADDR=:8080
# No demo unless asked for: CHECKOUT_CONFIG, or -e CHECKOUT_DEMO=on.
ENV CHECKOUT_DEMO=off
EXPOSE 8080
# uid 65532 (nonroot), from the base image.
USER nonroot:nonroot
# No shell or curl in the image: the binary checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/checkout", "-healthcheck"]
ENTRYPOINT ["/usr/local/bin/checkout"]
