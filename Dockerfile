# syntax=docker/dockerfile:1
#
# The checkout service as a static binary on distroless, running as nonroot.
#   docker build -t checkout .
#   docker run --rm -p 8080:8080 checkout                      # demo mode
#   docker run --rm -p 8080:8080 -e REDIS_URL=redis://redis:6379/0 \
#     -e CHECKOUT_CONFIG=/etc/checkout/merchants.yaml -v "$PWD/merchants.yaml:/etc/checkout/merchants.yaml:ro" \
#     -e CHECKOUT_SESSION_KEYS=… -e CHECKOUT_SIGNING_SECRET=… -e CHECKOUT_PUBLIC_URL=https://pay.example.com checkout

FROM golang:1.26-trixie AS build
WORKDIR /src
# Modules first, so that code changes do not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo), reproducible paths, and the time zone database compiled
# in (timetzdata) so that Asia/Shanghai resolves whatever the base image has.
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags="-s -w" -o /out/checkout ./cmd/checkout

# Zone files for the runtime image (whether or not the Go image has them).
RUN apt-get update && apt-get install -y --no-install-recommends tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && test -f /usr/share/zoneinfo/Asia/Shanghai

FROM gcr.io/distroless/static-debian13:nonroot
# distroless/static ships CA certificates (/etc/ssl/certs) for the gateway,
# WeChat and Alipay over TLS, and /usr/share/zoneinfo; Asia/Shanghai is copied
# explicitly as well so that TZ=Asia/Shanghai works for anything outside Go.
COPY --from=build /usr/share/zoneinfo/Asia/Shanghai /usr/share/zoneinfo/Asia/Shanghai
COPY --from=build /out/checkout /usr/local/bin/checkout
ENV CHECKOUT_ADDR=:8080
EXPOSE 8080
# uid 65532 (nonroot), from the base image.
USER nonroot:nonroot
# No shell or curl in the image: the binary checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/checkout", "-healthcheck"]
ENTRYPOINT ["/usr/local/bin/checkout"]
