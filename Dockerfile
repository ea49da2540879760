# Rewind's services in one image: processor, ingest and query (and the
# replay preview, run from the candidate image before a rollout), static
# binaries on distroless, running as non-root. docker-compose.yml picks
# the binary per service with `entrypoint`.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pebble and franz-go are pure Go: no cgo, so the binaries are static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/processor ./cmd/ingest ./cmd/query ./cmd/replay \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/processor /out/ingest /out/query /out/replay /usr/local/bin/
# A named volume mounted on /data takes this owner: the non-root user
# can write its Pebble store there.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
WORKDIR /data
EXPOSE 8080 8081 8082
ENTRYPOINT ["/usr/local/bin/processor"]
