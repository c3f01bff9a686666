# syntax=docker/dockerfile:1
#
# The checkout service as a static binary on an empty image, running as nonroot.
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" -t checkout .
#   docker run --rm -p 8080:8080 -e CHECKOUT_DEMO=on checkout    # the demo, asked for
#   docker run --rm -p 8080:8080 -e REDIS_URL=redis://redis:6379/0 \
#     -e CHECKOUT_CONFIG=/etc/checkout/merchants.yaml -v "$PWD/merchants.yaml:/etc/checkout/merchants.yaml:ro" \
#     -e CHECKOUT_SESSION_KEYS=… -e CHECKOUT_SIGNING_SECRET=… -e CHECKOUT_PUBLIC_URL=https://pay.example.com checkout
# Started without CHECKOUT_CONFIG, the container refuses to start
# (CHECKOUT_DEMO=off below): a forgotten variable must not put a demo, with
# its in-memory data, in production.

# Every base image is pinned exactly, without a registry to resolve
# digests: the build stage to an exact Go release, the one go.mod names
# (TestDockerfile checks it), and the runtime is scratch, which has no
# versions at all. The binary needs nothing from a base image but CA
# certificates and a user, both taken from the pinned build stage.
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
# The runtime's only files besides the binary: the build image's CA
# certificates (the gateway, WeChat and Alipay are reached over TLS) and
# an unprivileged user, uid 65532 as distroless names it.
RUN mkdir -p /out/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' > /out/etc/passwd \
 && echo 'nonroot:x:65532:' > /out/etc/group
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

FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="checkout" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/etc/ /etc/
COPY --from=build /out/checkout /usr/local/bin/checkout
ENV CHECKOUT_ADDR=:8080
# No demo unless asked for: CHECKOUT_CONFIG, or -e CHECKOUT_DEMO=on.
ENV CHECKOUT_DEMO=off
EXPOSE 8080
# uid 65532, from the /etc/passwd above.
USER nonroot:nonroot
# No shell or curl in the image: the binary checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/checkout", "-healthcheck"]
ENTRYPOINT ["/usr/local/bin/checkout"]
