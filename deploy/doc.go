// Package deploy holds no code: its tests check the shipped deployment files
// (the Kubernetes manifest, the Helm chart, the compose stack and the Grafana
// dashboard) with the real Kubernetes types, Helm and compose loaders. It is
// a module of its own so that their dependencies stay out of batchwire's.
package deploy
