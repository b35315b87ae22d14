// Package config holds batchwire's YAML configuration: strict decoding in which
// unknown keys are errors with their line, defaults, and validation that reports
// every problem at once. A *Config returned by Load is always a valid one.
package config
