# Multi-stage build: a static batchwire binary on distroless (nonroot, no shell).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/batchwire ./cmd/batchwire

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/batchwire /batchwire
USER nonroot:nonroot
EXPOSE 9464
ENTRYPOINT ["/batchwire"]
CMD ["run", "--config", "/etc/batchwire/batchwire.yaml"]
