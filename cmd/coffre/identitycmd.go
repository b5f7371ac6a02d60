package main

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/op"
	"github.com/coffre-cloud/coffre/identity/password"
	"github.com/coffre-cloud/coffre/identity/totp"
)

// identityOp is one administration request of the identity register, run
// by the serving process (through the admin socket) or, when none runs, by
// the command itself.
type identityOp struct {
	Op       string           `json:"op"`
	CSV      []byte           `json:"csv,omitempty"`
	Client   *identity.Client `json:"client,omitempty"`
	ID       string           `json:"id,omitempty"` // client ID, national number or card fingerprint
	Tenant   string           `json:"tenant,omitempty"`
	Roles    []string         `json:"roles,omitempty"`
	Password string           `json:"password,omitempty"`
}

// identityAdmin runs identity operations on a register, with the provider
// when it serves (key rotation must reach its signer).
type identityAdmin struct {
	reg  *identity.Register
	prov *op.Provider
}

func (a *identityAdmin) run(ctx context.Context, o identityOp) (string, error) {
	if a == nil {
		return "", errors.New("the identity provider is off on this server (--identity-addr off)")
	}
	switch o.Op {
	case "import":
		st, err := identity.ImportCSV(ctx, a.reg, strings.NewReader(string(o.CSV)))
		if err != nil {
			return "", err
		}
		n, _ := a.reg.CountResidents(ctx)
		return fmt.Sprintf("register imported: %d residents added, %d updated; %d in the register", st.Added, st.Updated, n), nil
	case "client-add":
		if err := a.reg.PutClient(ctx, o.Client); err != nil {
			return "", err
		}
		return fmt.Sprintf("client %s registered (strict FAPI 2.0 profile: %v, sector %s, id_tokens exchangeable for S3 credentials: %v)", o.Client.ID, o.Client.Strict, o.Client.SectorID(), o.Client.STS), nil
	case "client-revoke":
		err := a.reg.UpdateClient(ctx, o.ID, func(c *identity.Client) error { c.Revoked = true; return nil })
		if err != nil {
			return "", fmt.Errorf("client %s: %w", o.ID, err)
		}
		return fmt.Sprintf("client %s revoked: its requests, tokens and refresh tokens are refused from now on", o.ID), nil
	case "client-list":
		cs, err := a.reg.Clients(ctx)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%-24s %-8s %-8s %-8s %-24s %s\n", "CLIENT", "STRICT", "STS", "REVOKED", "SECTOR", "REDIRECT URIS")
		for _, c := range cs {
			fmt.Fprintf(&b, "%-24s %-8v %-8v %-8v %-24s %s\n", c.ID, c.Strict, c.STS, c.Revoked, c.SectorID(), strings.Join(c.RedirectURIs, " "))
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	case "card-revoke":
		nn, err := a.reg.RevokeCard(ctx, o.ID)
		if err != nil {
			return "", fmt.Errorf("card %s: %w", o.ID, err)
		}
		return fmt.Sprintf("card %s revoked (resident %s): it can no longer log in", o.ID, a.reg.Ref(nn)), nil
	case "agent-set":
		if err := a.reg.PutAgent(ctx, &identity.Agent{NationalNumber: o.ID, Tenant: o.Tenant, Roles: o.Roles}); err != nil {
			return "", err
		}
		if len(o.Roles) == 0 {
			return fmt.Sprintf("resident %s no longer acts for tenant %s", a.reg.Ref(o.ID), o.Tenant), nil
		}
		return fmt.Sprintf("resident %s acts for tenant %s with roles %s", a.reg.Ref(o.ID), o.Tenant, strings.Join(o.Roles, ",")), nil
	case "password":
		if err := password.Check(o.Password); err != nil {
			return "", err
		}
		h, err := password.Hash(o.Password, password.DefaultParams())
		if err != nil {
			return "", err
		}
		err = a.reg.UpdateResident(ctx, o.ID, func(r *identity.Resident) error { r.PasswordHash = h; return nil })
		if err != nil {
			return "", fmt.Errorf("resident: %w", err)
		}
		return "password set", nil
	case "totp":
		secret, err := totp.NewSecret()
		if err != nil {
			return "", err
		}
		err = a.reg.UpdateResident(ctx, o.ID, func(r *identity.Resident) error { r.TOTPSecret, r.TOTPLastStep = secret, 0; return nil })
		if err != nil {
			return "", fmt.Errorf("resident: %w", err)
		}
		return fmt.Sprintf("TOTP enrolled; give the resident this key (shown only now):\n  %s\n  secret %s", totp.URI("Coffre", o.ID, secret), base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)), nil
	case "activation-code":
		code, err := a.reg.NewActivationCode(ctx, o.ID, 0)
		if err != nil {
			return "", fmt.Errorf("resident: %w", err)
		}
		return fmt.Sprintf("activation code (give it to the resident out of band; valid %s, one use, replaces any earlier code):\n  %s", identity.ActivationTTL, code), nil
	case "keys-rotate":
		if a.prov == nil {
			return "", errors.New("rotating signing keys needs the provider")
		}
		kid, err := a.prov.RotateSigningKey(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("signing key %s is now current; the previous keys stay in the JWKS until the tokens they signed expire", kid), nil
	}
	return "", fmt.Errorf("unknown identity operation %q", o.Op)
}

// identityCmd is `coffre identity ...`.
type identityCmd struct{ stdout, stderr io.Writer }

const identityUsage = `identity import --csv FILE                    import the population register (columns: ` + "national_number,given_name,family_name,birthdate,gender,birthplace,birthcountry,email,phone_number,card_certificates" + `)
  identity client add --id ID --name NAME --redirect-uri URI... (--jwks FILE | --jwks-uri URL) [--sector S] [--no-strict] [--id-token-enc ECDH-ES|RSA-OAEP-256] [--post-logout-uri URI] [--sts]
  identity client revoke --id ID | identity client list
  identity card revoke --fingerprint SHA256HEX | --cert FILE
  identity agent set --nn NATIONAL_NUMBER --tenant T --role R... (no --role: remove)
  identity resident password --nn NN (the password on stdin) | identity resident totp --nn NN
  identity resident activation-code --nn NN   a one-time code with which the resident enrolls a passkey
  identity keys rotate
  identity totp-code --secret BASE32     the current code of a TOTP secret (demo tour)`

func (c *identityCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, identityUsage)
	}
	name := args[0]
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		name += " " + args[1]
		args = args[1:]
	}
	fl := flag.NewFlagSet("identity "+name, flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	sf := addSiteFlags(fl)
	var kf keyFlags
	fl.StringVar(&kf.pkcs11Module, "pkcs11-module", "", "PKCS#11 library, when the server is not running (as for serve)")
	fl.StringVar(&kf.pkcs11Token, "pkcs11-token", "coffre", "HSM token label, when the server is not running")
	csvFile := fl.String("csv", "", "import: the register's CSV file")
	id := fl.String("id", "", "client ID")
	cname := fl.String("name", "", "client: name shown to residents")
	var redirects, postLogout, roles stringList
	fl.Var(&redirects, "redirect-uri", "client: a redirect URI (repeatable)")
	fl.Var(&postLogout, "post-logout-uri", "client: a post-logout redirect URI (repeatable)")
	jwksFile := fl.String("jwks", "", "client: file of its public JWKS")
	jwksURI := fl.String("jwks-uri", "", "client: URL of its public JWKS")
	sector := fl.String("sector", "", "client: sector of its pairwise subjects (default: its redirect URI's host)")
	noStrict := fl.Bool("no-strict", false, "client: outside the FAPI 2.0 profile (PAR and DPoP optional)")
	idEnc := fl.String("id-token-enc", "", "client: encrypt id_tokens with this JWE alg (ECDH-ES, ECDH-ES+A256KW, RSA-OAEP-256), enc A256GCM")
	userinfoJWT := fl.Bool("userinfo-jwt", false, "client: answer userinfo as a signed JWT (encrypted like the id_token)")
	stsOK := fl.Bool("sts", false, "client: its id_tokens may be exchanged for temporary S3 credentials of the resident's tenants (STS AssumeRoleWithWebIdentity on the S3 port)")
	fp := fl.String("fingerprint", "", "card: SHA-256 of its certificate, hex")
	certFile := fl.String("cert", "", "card: its certificate (PEM or DER)")
	nn := fl.String("nn", "", "resident's national number")
	tenant := fl.String("tenant", "", "agent: the tenant")
	fl.Var(&roles, "role", "agent: a role (repeatable)")
	secret := fl.String("secret", "", "totp-code: base32 secret")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	o := identityOp{}
	switch name {
	case "totp-code":
		key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(*secret, "=")))
		if err != nil || len(key) == 0 {
			return fmt.Errorf("%w: identity totp-code --secret BASE32", errUsage)
		}
		fmt.Fprintln(c.stdout, totp.Generate(key, time.Now()))
		return nil
	case "import":
		b, err := os.ReadFile(*csvFile)
		if err != nil {
			return fmt.Errorf("identity import --csv FILE: %w", err)
		}
		o = identityOp{Op: "import", CSV: b}
	case "client add":
		cl := &identity.Client{ID: *id, Name: *cname, RedirectURIs: redirects, PostLogoutRedirectURIs: postLogout,
			JWKSURI: *jwksURI, Sector: *sector, Strict: !*noStrict, STS: *stsOK}
		if cl.Name == "" {
			cl.Name = cl.ID
		}
		if *jwksFile != "" {
			b, err := os.ReadFile(*jwksFile)
			if err != nil {
				return err
			}
			if !json.Valid(b) {
				return fmt.Errorf("%s is not JSON", *jwksFile)
			}
			cl.JWKS = b
		}
		if *idEnc != "" {
			cl.IDTokenEncAlg, cl.IDTokenEncEnc = *idEnc, "A256GCM"
			if *userinfoJWT {
				cl.UserinfoEncAlg, cl.UserinfoEncEnc = *idEnc, "A256GCM"
			}
		}
		cl.UserinfoSigned = *userinfoJWT
		o = identityOp{Op: "client-add", Client: cl}
	case "client revoke":
		o = identityOp{Op: "client-revoke", ID: *id}
	case "client list":
		o = identityOp{Op: "client-list"}
	case "card revoke":
		f := *fp
		if *certFile != "" {
			ders, err := readCertificate(*certFile)
			if err != nil {
				return err
			}
			f = identity.CardFingerprint(ders)
		}
		if f == "" {
			return fmt.Errorf("%w: identity card revoke --fingerprint HEX | --cert FILE", errUsage)
		}
		o = identityOp{Op: "card-revoke", ID: strings.ToLower(f)}
	case "agent set":
		o = identityOp{Op: "agent-set", ID: *nn, Tenant: *tenant, Roles: roles}
	case "resident password":
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 4096))
		if err != nil {
			return err
		}
		o = identityOp{Op: "password", ID: *nn, Password: strings.TrimRight(string(b), "\r\n")}
	case "resident totp":
		o = identityOp{Op: "totp", ID: *nn}
	case "resident activation-code":
		o = identityOp{Op: "activation-code", ID: *nn}
	case "keys rotate":
		o = identityOp{Op: "keys-rotate"}
	default:
		return fmt.Errorf("%w: unknown identity subcommand %q\n%s", errUsage, name, identityUsage)
	}
	msg, err := identityOpAnywhere(ctx, sf, kf, o, c.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, msg)
	return nil
}

// identityOpAnywhere runs o through the serving process when there is one,
// or else opens the site's register itself.
func identityOpAnywhere(ctx context.Context, sf *siteFlags, kf keyFlags, o identityOp, stdout io.Writer) (string, error) {
	cfg, s, err := sf.load()
	if err != nil {
		return "", err
	}
	msg, err := callAdminPath(ctx, cfg.Path(filepath.Join("sites", s.Name)), "/v1/identity", o)
	if !errors.Is(err, errNoServer) {
		return msg, err
	}
	st, err := openSite(ctx, cfg, s, slog.New(slog.DiscardHandler), siteOpts{}, kf, stdout)
	if err != nil {
		return "", fmt.Errorf("the server is not running and the site could not be opened: %w", err)
	}
	defer st.Close()
	reg, err := identity.Open(ctx, st.meta, st.keys)
	if err != nil {
		return "", err
	}
	a := &identityAdmin{reg: reg}
	if o.Op == "keys-rotate" {
		if a.prov, err = op.New(ctx, op.Config{Issuer: "http://127.0.0.1", Register: reg, Keys: st.keys, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			return "", err
		}
	}
	return a.run(ctx, o)
}
