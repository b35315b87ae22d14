// Package config holds batchwire's YAML configuration: strict decoding in which
// unknown keys are problems naming their line, owner and field, defaults, and
// validation that reports every problem at once as typed Problems. A *Config
// returned by Load or Parse is always a valid one; Decode and Read return what
// could be decoded along with every problem, for the daemon's loader.
package config
