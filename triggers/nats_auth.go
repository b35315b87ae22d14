package triggers

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/batchwire/batchwire/config"
)

// NATSAuth is how the daemon's NATS connection authenticates, with the
// secrets already read (the loader reads them once, so a missing file is a
// problem check reports). It is also the one user the embedded server
// accepts when it is set. Its secrets print as [redacted].
type NATSAuth struct {
	User     string
	Password secret
	// Seed is an nkey user seed (SU...).
	Seed secret
}

// ReadNATSAuth reads the password and nkey seed files nats names. Errors
// are *FieldError (nats.password_file), joined, and never hold a secret.
func ReadNATSAuth(cfg config.NATS) (NATSAuth, error) {
	auth := NATSAuth{User: cfg.User}
	var errs []error
	if cfg.PasswordFile != "" {
		password, err := readSecretFile("nats.password_file", cfg.PasswordFile)
		errs = append(errs, err)
		auth.Password = password
	}
	if cfg.NKeySeedFile != "" {
		seed, err := readSecretFile("nats.nkey_seed_file", cfg.NKeySeedFile)
		if err == nil {
			if _, err = nkeyPublic(seed); err != nil {
				err = fieldErrorf("nats.nkey_seed_file", "%s does not hold an nkey user seed (SU...)", cfg.NKeySeedFile)
			}
		}
		errs = append(errs, err)
		auth.Seed = seed
	}
	return auth, errors.Join(errs...)
}

// nkeyPublic is the public key of a user seed.
func nkeyPublic(seed secret) (string, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return "", err
	}
	defer kp.Wipe()
	prefix, _, err := nkeys.DecodeSeed(seed)
	if err != nil || prefix != nkeys.PrefixByteUser {
		return "", errors.New("not a user seed")
	}
	return kp.PublicKey()
}

// options are the nats.go options that present these credentials.
func (a NATSAuth) options() ([]nats.Option, error) {
	var opts []nats.Option
	if a.User != "" {
		opts = append(opts, nats.UserInfo(a.User, string(a.Password)))
	}
	if len(a.Seed) > 0 {
		public, err := nkeyPublic(a.Seed)
		if err != nil {
			return nil, errors.New("nats.nkey_seed_file: not an nkey user seed")
		}
		seed := a.Seed
		opts = append(opts, nats.Nkey(public, func(nonce []byte) ([]byte, error) {
			kp, err := nkeys.FromSeed(seed)
			if err != nil {
				return nil, err
			}
			defer kp.Wipe()
			return kp.Sign(nonce)
		}))
	}
	return opts, nil
}

// serverUsers makes the embedded server accept these credentials only.
func (a NATSAuth) serverUsers(opts *server.Options) error {
	if a.User != "" {
		opts.Users = []*server.User{{Username: a.User, Password: string(a.Password)}}
	}
	if len(a.Seed) > 0 {
		public, err := nkeyPublic(a.Seed)
		if err != nil {
			return fmt.Errorf("nats.nkey_seed_file: %w", err)
		}
		opts.Nkeys = []*server.NkeyUser{{Nkey: public}}
	}
	return nil
}

// natsTLSOptions verify the external server with ca_file (else the system
// roots, once the URL is tls://) and present the client certificate.
func natsTLSOptions(cfg config.NATSTLS) []nats.Option {
	var opts []nats.Option
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if cfg.CertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	return opts
}
