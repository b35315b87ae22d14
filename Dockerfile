# Multi-stage build: a static batchwire binary on distroless (nonroot, no shell).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# docker build --build-arg VERSION=$(git describe --tags) --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=devel
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/batchwire ./cmd/batchwire

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/batchwire /batchwire
USER nonroot:nonroot
EXPOSE 9464
ENTRYPOINT ["/batchwire"]
CMD ["run", "--config", "/etc/batchwire/batchwire.yaml"]
