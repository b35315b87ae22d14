# Multi-stage build: a static batchwire binary on distroless (nonroot, no shell).
#   docker build -t batchwire:0.1.0 .
#
# Pin both base images by digest for a release build (FROM image:tag@sha256:...),
# so a rebuild takes exactly the bytes that were reviewed; the digests are not
# written here because they must be read from the registry at pin time
# (docker buildx imagetools inspect golang:1.26-bookworm), not guessed.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build context has no .git (see .dockerignore), so -buildvcs=false, and the
# version and commit come from build arguments:
# docker build --build-arg VERSION=$(git describe --tags) --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=devel
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/batchwire ./cmd/batchwire

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/batchwire /batchwire
# Numeric, so the kubelet can check runAsNonRoot (65532 is distroless's nonroot).
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/batchwire"]
CMD ["run", "--config", "/etc/batchwire/batchwire.yaml"]
